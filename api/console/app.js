// muster console: region modes, activations and the live muster board
// (报到看板). Plain script, no dependencies; every figure comes from the
// /api/v1 JSON API with the token the user pasted in.
'use strict';

(() => {
  const TOKEN_KEY = 'muster.token';
  const REFRESH_MS = 5000; // modes, and the board when it polls
  const LIST_REFRESH_MS = 10000; // the list of activations
  const STALL_MS = 45000; // a stream silent this long is dead (the server sends a heartbeat every 15 s)
  const RETRY_STREAM_MS = 30000; // while polling, try the stream again after this
  const MAX_PAGES = 20; // pages of 1000 activations read for the list

  const MSG_BAD_TOKEN = '令牌无效：服务器不认识这个令牌（可能输错、已过期或已被吊销）。请检查后重新粘贴。';
  const MSG_SIGNED_OUT = '登录已失效：令牌已过期或已被吊销，请重新输入令牌。';
  const MSG_UNREACHABLE = '无法连接本节点：它可能已停止或网络已中断。请打开另一个节点的控制台（同一令牌可用）。';
  const MSG_VIEW_ONLY = '该令牌只能查看，不能审批或指挥操作。';
  const WHOAMI_MS = 10000; // how long the console waits to learn what its token may do

  const MODE_NAMES = { normal: '平时', standby: '临战', emergency: '战时', recovery: '恢复' };
  const MODE_ORDER = { emergency: 0, standby: 1, recovery: 2, normal: 3 };
  const LEVEL_NAMES = { I: '特别重大', II: '重大', III: '较大', IV: '一般' };
  const WARNING_NAMES = { red: '红色', orange: '橙色', yellow: '黄色', blue: '蓝色' };
  const STATUS_NAMES = {
    pending_approval: '待审批',
    active: '进行中',
    stood_down: '已解除',
    rejected: '已驳回',
    approval_expired: '审批已过期',
  };
  const LIVE_NAMES = {
    connecting: '连接中…',
    stream: '实时更新',
    polling: '实时连接中断，轮询中（每 5 秒）',
    cutoff: '本节点已与集群失联，数据未更新',
    ended: '已解除，数据不再变化',
    never: '未启动（已驳回或审批已过期），数据不再变化',
  };
  // standbyReason is why a region is in standby, as muster mode says it:
  // the warnings holding it, named as the audit trail names them
  // (WarningHold.Reason), not the last switch's reason (a retraction's, or
  // a warning's since lifted); '' otherwise.
  const standbyReason = (m) =>
    m.mode === 'standby' && (m.warnings || []).length
      ? m.warnings.map((w) => `${WARNING_NAMES[w.level] || w.level}预警 ${w.warning}: ${w.headline || ''}`).join('；')
      : '';
  // A request in these states will never start: nobody is called, no clock
  // runs, and its event stream ends.
  const NEVER_STARTS = new Set(['rejected', 'approval_expired']);
  // The board's totals, in the order shown: [key, label, value of a
  // total]. 已发送 counts everyone a message went out to, whatever became
  // of it since (notify.StatusCounts.Out); 已送达待回复 is the state
  // delivered: reached and not yet answered.
  const outOf = (t) => (t.sent || 0) + (t.delivered || 0) + (t.acked || 0) + (t.declined || 0) + (t.escalated || 0);
  const TOTALS = [
    ['recipients', '应到'],
    ['out', '已发送', outOf],
    ['delivered', '已送达待回复'],
    ['acked', '已报到（到）'],
    ['declined', '不能到'],
    ['failed', '发送失败'],
    ['escalated', '已升级'],
    ['sending', '发送中'],
    ['pending', '待发送'],
    ['expired', '发送中解除'],
    ['cancelled', '已取消召集'],
    ['unanswered', '未回复'],
  ];
  // A recipient's state in words, as the board's tiles name it.
  const STATE_NAMES = {
    pending: '待发送',
    sending: '发送中',
    sent: '已发送',
    delivered: '已送达待回复',
    acked: '已报到',
    declined: '不能到',
    failed: '发送失败',
    escalated: '已升级',
    expired: '发送中解除',
    cancelled: '已取消召集',
  };
  // Once a call-up is no longer active, those still pending are never
  // sent (muster status: NOT SENT).
  const ENDED_LABELS = { pending: '未发送' };
  // Boxes shown only when not zero: expired is someone whose message was
  // in flight when the call-up was stood down (muster status: EXPIRED);
  // cancelled someone an operator took off the call-up (CANCELLED).
  const ONLY_IF_ANY = new Set(['expired', 'cancelled']);
  // A correction takes no answers, nor does an end notice: its board
  // leaves out the answer counts.
  const ANSWER_TOTALS = new Set(['acked', 'declined', 'unanswered']);
  // On a correction, delivered is just 已送达: nobody is waiting for a reply.
  const CORRECTION_LABELS = { delivered: '已送达' };
  const NO_ANSWERS = '无需回复';

  // An AuthError is a 401: the token is gone; the login form is showing.
  class AuthError extends Error {}

  // An APIError is any other error answer, in muster's error shape.
  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // ----- small helpers -----

  const $ = (id) => document.getElementById(id);

  // el builds an element. props: class, text, or attributes; children:
  // nodes or text (null and false are skipped). Text is never parsed as HTML.
  function el(tag, props, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      n.append(c instanceof Node ? c : String(c));
    }
    return n;
  }

  // scrollTable is a table of class cls with a header row and a body, in a
  // box that scrolls sideways on a narrow screen.
  const scrollTable = (cls, head, body) =>
    el('div', { class: 'table-wrap' }, el('table', { class: cls }, el('thead', {}, head), body));

  // headRow is a table's header row; a column is a label, or [label, class]
  // (class opt: hidden on a phone).
  const headRow = (cols) =>
    el('tr', {}, cols.map((c) => (Array.isArray(c) ? el('th', { class: c[1] }, c[0]) : el('th', {}, c))));

  const pad = (n) => String(n).padStart(2, '0');

  // fmtTime shows an RFC 3339 time in local time, or — for none.
  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s);
    if (Number.isNaN(d.getTime()) || d.getFullYear() <= 1) return '—';
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  // fmtClock shows the time of day of an RFC 3339 time.
  function fmtClock(s) {
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) return '—';
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  // fmtElapsed shows a Go duration (nanoseconds) as T+m:ss or T+h:mm:ss.
  function fmtElapsed(ns) {
    const total = Math.max(0, Math.floor((ns || 0) / 1e9));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return h > 0 ? `T+${h}:${pad(m)}:${pad(s)}` : `T+${m}:${pad(s)}`;
  }

  const fmtPct = (p) => `${(Math.round((p || 0) * 10) / 10).toFixed(1)}%`;
  // A checkpoint still counting, passed, or cut short by a stand-down
  // before it (its count ends at the stand-down, not at T+N).
  const checkpointClass = (a) => (a.cut ? ' cut' : a.reached ? '' : ' counting');
  const checkpointTitle = (a) =>
    a.cut ? `T+${a.minutes} 分钟前已解除：计至解除时` : a.reached ? `T+${a.minutes} 分钟已到` : '计数中';

  function levelText(code, name) {
    if (!code) return '—';
    return `${code}级（${name || LEVEL_NAMES[code] || code}）`;
  }

  function purposeBadge(purpose) {
    switch (purpose) {
      case 'EXERCISE':
        return el('span', { class: 'badge exercise', 'data-purpose': purpose }, '【演练】');
      case 'TEST':
        return el('span', { class: 'badge test', 'data-purpose': purpose }, '【测试】');
      default:
        return el('span', { class: 'badge live', 'data-purpose': purpose || 'LIVE' }, '实战');
    }
  }

  // isEndNotice reports whether a is the notice that tells the people a
  // call-up reached that it ended (ends_call_up; ends_drill for a drill's):
  // its retracts names that call-up, which was stood down, not withdrawn.
  const isEndNotice = (a) => !!(a.ends_call_up || a.ends_drill);

  function statusText(a) {
    if (isEndNotice(a)) {
      const s = `${a.ends_drill ? '演练结束通知' : '结束通知'}（${a.retracts} 已解除）`;
      return a.status === 'active' ? `${s} · 发送中` : s;
    }
    let s = STATUS_NAMES[a.status] || a.status || '—';
    if (a.retraction) s += '（已撤回）';
    if (a.retracts) s += `（更正 ${a.retracts}）`;
    if (a.stopped_by) s += `（被实战启动 ${a.stopped_by} 中止）`; // a drill a LIVE call-up stood down
    return s;
  }

  // reasonText is an activation's reason as the console says it: the
  // server words the reason of a follow-up it sends itself (an end notice,
  // a correction) in English; those are said in Chinese.
  function reasonText(a) {
    const r = a.reason || '';
    if (a.retracts && /^end of (call-up|drill) /.test(r)) {
      return `${a.ends_drill ? '演练' : '召集'} ${a.retracts} 已解除，告知已收到通知的人${a.ends_drill ? '演练' : '响应'}结束`;
    }
    if (a.retracts && /^retraction of /.test(r)) return `撤回 ${a.retracts}，告知可能已收到原通知的人`;
    return r || '—';
  }

  const boardLink = (id) => el('a', { href: `#/board/${encodeURIComponent(id)}` }, id);
  // byName is who decided: the token's name, and its holder when another.
  const byName = (name, holder) => `${name || '—'}${holder && holder !== name ? `（${holder}）` : ''}`;

  // decisionLines say what was decided on a call-up, in order, as muster
  // status does: who asked for it and why, who approved or rejected it,
  // who stood it down, when and why, and the end notice sent; or who
  // retracted it, with what message, and its correction; for a follow-up,
  // the call-up it follows.
  function decisionLines(a) {
    const li = (kind, ...parts) => el('li', { 'data-kind': kind }, ...parts);
    const out = [];
    if (a.retracts) {
      out.push(
        li(
          'follows',
          isEndNotice(a) ? '结束通知：' : '更正：',
          boardLink(a.retracts),
          isEndNotice(a) ? ' 已解除，本通知告知已收到通知的人' : ' 已撤回，本通知发给可能已收到原通知的人',
          `（${fmtTime(a.created_at)}，${a.created_by || '—'}）`,
        ),
      );
      return out;
    }
    out.push(li('requested', `发起：${a.created_by || '—'}，${fmtTime(a.created_at)}；事由：${reasonText(a)}`));
    for (const d of a.decisions || []) {
      out.push(
        li(
          d.approve ? 'approved' : 'rejected',
          `${d.approve ? '批准' : '驳回'}：${byName(d.by, d.holder)}，${fmtTime(d.at)}${d.reason ? `；${d.approve ? '意见' : '理由'}：${d.reason}` : ''}`,
        ),
      );
    }
    const r = a.retraction;
    if (r) {
      out.push(
        li(
          'retracted',
          `撤回：${r.by || '—'}，${fmtTime(r.at)}；说明：${r.message || '—'}`,
          r.correction ? ['；', r.correct ? '更正通知 ' : '撤回通知 ', boardLink(r.correction), `，发给 ${r.recipients || 0} 人`] : '',
        ),
      );
    } else if (a.stood_down_at && a.status === 'stood_down') {
      out.push(
        li(
          'stood-down',
          `解除：${a.stood_down_by || '—'}，${fmtTime(a.stood_down_at)}；理由：${a.stand_down_reason || '—'}`,
          a.stopped_by ? ['（被实战启动 ', boardLink(a.stopped_by), ' 中止）'] : '',
        ),
      );
      if (a.end_notice) out.push(li('end-notice', '结束通知：', boardLink(a.end_notice), '，告知已收到通知的人响应已结束'));
    }
    return out;
  }

  // ----- session and API -----

  // who is what the session's token is and may do (GET /api/v1/whoami),
  // read once when the console starts; null when the server did not say
  // (an older one, or the request failed): then every panel shows and the
  // server's refusal says who may not.
  let who = null;

  // may reports whether the session's token may make operation op (a key
  // of whoami's may: approve, reject, stand_down, retract, activate); yes
  // when the server did not say.
  const may = (op) => !who || !who.may || who.may[op] !== false;

  const session = {
    get token() {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    },
    set(token) {
      sessionStorage.setItem(TOKEN_KEY, token);
    },
    clear() {
      sessionStorage.removeItem(TOKEN_KEY);
    },
  };

  // errorOf reads muster's error shape from an answer that is not ok.
  async function errorOf(res) {
    let code = `http_${res.status}`;
    let message = `HTTP ${res.status}`;
    try {
      const body = await res.json();
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
      }
    } catch (e) {
      // Not JSON: keep the status.
    }
    return new APIError(res.status, code, message);
  }

  // api fetches path with the session's token (a POST when body is given,
  // sent as JSON). A 401 signs out (the login form shows why) and throws
  // AuthError; another error answer throws APIError.
  async function api(path, { signal, accept = 'application/json', body } = {}) {
    const headers = { Authorization: `Bearer ${session.token}`, Accept: accept };
    const init = { headers, cache: 'no-store', signal };
    if (body !== undefined) {
      init.method = 'POST';
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (res.status === 401) {
      signOut(MSG_SIGNED_OUT);
      throw new AuthError(MSG_SIGNED_OUT);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  async function getJSON(path, signal) {
    return (await api(path, { signal })).json();
  }

  async function postJSON(path, body, signal) {
    return (await api(path, { signal, body })).json();
  }

  // quiet reports whether an error needs no message: the page was left or
  // the user was signed out.
  const quiet = (e, signal) => e instanceof AuthError || (signal && signal.aborted) || (e && e.name === 'AbortError');

  // unreachable reports whether e is a request that never got an answer:
  // the node is down or the network between is.
  const unreachable = (e) => e instanceof TypeError;

  // ERROR_NAMES say in Chinese what an error answer means; the server's own
  // message, in English, follows for whoever reports it.
  const ERROR_NAMES = {
    invalid: '请求无效',
    forbidden: '该令牌没有权限',
    not_found: '不存在',
    conflict: '与当前状态冲突',
    not_leader: '本节点暂时无法处理（集群正在切换主节点）',
    unavailable: '集群暂不可用（没有主节点或正在关闭）',
    timeout: '集群响应超时',
    internal: '服务器内部错误',
  };

  // ERROR_REASONS say in Chinese why the server refused the common
  // requests, read from its error code and the shape of its (English)
  // message: [code, pattern, reason from the match]. The first that
  // matches is said; the server's message follows as 详情.
  const ERROR_REASONS = [
    ['forbidden', /^activation (\S+) was requested by (.+?), (?:whose token|and the token)/,
      (m) => `该令牌来自申请人 ${m[2]} 的令牌，申请人可能持有它：${m[1]} 须由与申请人无关的另一人审批。`],
    ['forbidden', /^activation (\S+) was requested by (.+?)(?:; another person must decide| with the token )/,
      (m) => `申请人本人不能审批：${m[1]} 由 ${m[2]} 申请，须由另一人审批或驳回。`],
    ['forbidden', /another person must approve|that person could hold both tokens|cannot tell who made the token/,
      () => '该令牌与已审批者的令牌可能属于同一人：须由另一人审批。'],
    ['forbidden', /^token "(.*)" \(role (\S+)\) lacks the (\S+) permission/,
      (m) => `该令牌（${m[1]}，角色 ${m[2]}）没有此操作的权限。`],
    ['conflict', /has already decided on activation (\S+)/, (m) => `您已对 ${m[1]} 作出过审批决定，不能再次审批或驳回。`],
    ['conflict', /^(\S+), who requested activation (\S+)(?: with the token "[^"]*")?, holds (?:it no more|no token any more) \(revoked\)/,
      (m) => `申请人 ${m[1]} 的令牌已被吊销，申请 ${m[2]} 不再有效：请驳回。`],
    ['conflict', /^activation (\S+) is (pending_approval|active|stood_down|rejected|approval_expired), not waiting for approval/,
      (m) => `${m[1]} 已不在等待审批（现为${STATUS_NAMES[m[2]] || m[2]}），无需再审批。`],
    ['conflict', /^activation (\S+) (?:waited for approval until|is approval_expired)/,
      (m) => `${m[1]} 的审批已过期，未发送：如仍需要，请重新申请启动。`],
    ['conflict', /^activation (\S+) would now call /, (m) => `预览后名单已变化，${m[1]} 现在通知的人数与您看到的不同：请重新查看审批内容后再批准。`],
    ['conflict', /^activation (\S+) is the end notice of (\S+)/, (m) => `${m[1]} 是 ${m[2]} 的结束通知：不能撤回，全部发出后自动结束。`],
    ['conflict', /^activation (\S+) is the correction of (\S+)/, (m) => `${m[1]} 是 ${m[2]} 的更正通知：不能撤回，全部发出后自动结束。`],
    ['conflict', /^activation (\S+) was already retracted at \S+ by (.+?) \(correction (\S+)\)/,
      (m) => `${m[1]} 已由 ${m[2]} 撤回（更正 ${m[3]}）。`],
    ['conflict', /^activation (\S+) was retracted at \S+ by (.+?):/, (m) => `${m[1]} 已由 ${m[2]} 撤回，不再发送。`],
    ['conflict', /^activation (\S+) was already stood down at \S+ by (.+)$/, (m) => `${m[1]} 已由 ${m[2]} 解除。`],
    ['conflict', /^activation (\S+) (?:was rejected|is \S+ and never started|is \S+: nothing was sent)/,
      (m) => `${m[1]} 未曾发送，没有可撤回的内容。`],
    ['conflict', /^activation (\S+) \(.*\) (?:is already active over the same regions|over the same regions)/,
      (m) => `这些区域已有本预案的另一次启动或申请（${m[1]}）：请先查看它。`],
    ['conflict', /^no LIVE SMS account: node (\S+), which leads/,
      (m) => `主节点 ${m[1]} 未配置真实短信账号，真实召集发不出去，已拒绝：请为该节点配置真实短信账号（--twilio-account-sid 等）后重启；演练和测试不受影响。`],
    ['not_found', /^activation (\S+) does not exist/, (m) => `没有这个启动记录 ${m[1]}：请检查编号。`],
  ];

  // errorReason is the Chinese reason of an error answer (ERROR_REASONS),
  // or ''.
  function errorReason(e) {
    for (const [code, re, say] of ERROR_REASONS) {
      if (e.code !== code) continue;
      const m = re.exec(e.message || '');
      if (m) return say(m);
    }
    return '';
  }

  // The server's words for a request that found no leader to take it (it
  // was not carried out), and for one whose outcome is unknown (the leader
  // stopped answering while it handled it).
  const NO_LEADER = /no leader reachable/;
  const NO_KNOWN_LEADER = /^no known leader/; // a node's not_ready (as /readyz says)
  const MAYBE_APPLIED = /may or may not have been applied/;
  const MSG_NO_LEADER = '集群当前没有主节点（多数节点失联）';

  // errorText is what a page says about e.
  function errorText(e) {
    if (unreachable(e)) return MSG_UNREACHABLE;
    if (e instanceof APIError && NO_LEADER.test(e.message)) {
      return `${MSG_NO_LEADER}，读不到最新数据。请打开其他节点的控制台（同一令牌可用）；详情：${e.message}`;
    }
    if (e instanceof APIError) {
      const name = ERROR_NAMES[e.code] || `服务器错误（HTTP ${e.status}）`;
      const why = errorReason(e);
      if (why) return `${name}：${why}（详情：${e.message}）`;
      return e.message && e.message !== `HTTP ${e.status}` ? `${name}（${e.message}）` : name;
    }
    return (e && e.message) || String(e);
  }

  // actionErrorText is what a panel says about an action that failed with
  // e: without a leader it was not carried out, and the officer is told
  // so and what to do; when the leader stopped answering while it handled
  // it, it may have been, and the board must be looked at before trying
  // again.
  function actionErrorText(e) {
    if (e instanceof APIError && NO_LEADER.test(e.message)) {
      return `未执行：${MSG_NO_LEADER}。请检查各节点后重试，或打开其他节点的控制台；详情：${e.message}`;
    }
    if (e instanceof APIError && MAYBE_APPLIED.test(e.message)) {
      return `结果未知：集群在处理时失去响应，操作可能已执行，也可能未执行。请先查看看板核实，再决定是否重试；详情：${e.message}`;
    }
    return errorText(e);
  }

  // ----- Server-Sent Events over fetch -----

  // readEvents reads an event stream from body, calling onChunk for every
  // chunk received (heartbeats included) and onEvent(name, data) for every
  // event. It returns when the server ends the stream and throws when it
  // fails or signal is aborted.
  async function readEvents(body, onChunk, onEvent) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let name = '';
    let data = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        onChunk();
        buf += value;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          let line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (data.length > 0) onEvent(name || 'message', data.join('\n'));
            name = '';
            data = [];
            continue;
          }
          if (line.startsWith(':')) continue; // a comment: the heartbeat
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let v = colon < 0 ? '' : line.slice(colon + 1);
          if (v.startsWith(' ')) v = v.slice(1);
          if (field === 'event') name = v;
          else if (field === 'data') data.push(v);
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // ----- region modes, shared by the header and the modes page -----

  const modes = {
    items: null, // the last list read, or null before the first
    warnings: null, // the warnings in force, or null when none could be read
    pending: [], // LIVE requests waiting for approval
    error: null,
    readAt: null,
    loading: false,
    timer: 0,
    listeners: new Set(),
  };

  async function loadModes() {
    if (modes.loading || !session.token) return;
    modes.loading = true;
    try {
      const [d, w, p] = await Promise.all([
        getJSON('/api/v1/modes'),
        loadWarnings(),
        getJSON('/api/v1/activations?status=pending_approval&limit=100'),
      ]);
      modes.items = d.items || [];
      modes.warnings = w;
      modes.pending = p.items || [];
      modes.error = null;
      modes.readAt = new Date();
    } catch (e) {
      if (e instanceof AuthError) return;
      modes.error = e;
    } finally {
      modes.loading = false;
    }
    renderModeSummary();
    renderPrompt();
    renderApprovalPrompt();
    for (const f of modes.listeners) f();
  }

  function startModes() {
    stopModes();
    loadModes();
    loadCluster();
    modes.timer = setInterval(() => {
      loadModes();
      loadCluster();
    }, REFRESH_MS);
  }

  function stopModes() {
    clearInterval(modes.timer);
    modes.timer = 0;
  }

  // loadWarnings reads the warnings in force; null when this node serves
  // none (a node built without warnings answers 503).
  async function loadWarnings() {
    try {
      const d = await getJSON('/api/v1/warnings?active=true&limit=1000');
      return d.items || [];
    } catch (e) {
      if (e instanceof APIError && (e.code === 'unavailable' || e.status === 404)) return null;
      throw e;
    }
  }

  // modeOf is the mode a listed region is in: its own, or the one it is in
  // through an ancestor that outranks it (effective, from the API).
  const modeOf = (m) => (m.effective ? m.effective.mode : m.mode);

  function countModes(items) {
    const n = { emergency: 0, standby: 0 };
    for (const m of items || []) {
      if (modeOf(m) in n) n[modeOf(m)]++;
    }
    return n;
  }

  const minutesSince = (t) => Math.max(0, Math.floor((Date.now() - new Date(t).getTime()) / 60000));

  // A warning's purpose: an upstream drill's alert (CAP status Exercise or
  // Test) is EXERCISE or TEST, and only a drill answers it; a LIVE one (or
  // one stored before purposes were) wants a real response.
  const DRILL_WORDS = { EXERCISE: '演练', TEST: '测试' };
  const drillWord = (w) => DRILL_WORDS[w.purpose] || '';
  // drillMark is 【演练】 or 【测试】 for a drill's warning, '' for a LIVE one.
  const drillMark = (w) => (drillWord(w) ? `【${drillWord(w)}】` : '');

  // suggestionText names the first plan a warning suggests, at its level:
  // for a drill's warning, a drill of it (muster warning show suggests
  // --purpose exercise or test), never a LIVE response.
  const suggestionText = (w) => {
    const s = (w.suggestions || [])[0];
    const what = s ? `${s.title || s.plan} ${s.level}级` : `${w.suggested_level || ''}级响应`;
    const drill = drillWord(w);
    return drill ? `建议启动${drill} ${what}（以${drill}方式启动，不是实战响应）` : `建议启动 ${what}`;
  };

  // What became of a text of a warning's 叫应 (a TextNotice's state).
  const NOTICE_WORDS = { sent: '已发出', failed: '未发出', skipped: '未发', sending: '发送中', due: '待发' };
  // noticesText names the people a stage of a warning's 叫应 (prompted:
  // the commanders; escalated: the approvers, 值班领导) texted, each with
  // what became of the text and, once they replied to it, when they
  // acknowledged it (已应: it starts no response): "周一（已发出，09:13已应）、冯四（未发出）".
  const noticesText = (stage) =>
    (stage.texts || [])
      .map((n) => {
        const acked = n.acked_at ? `，${fmtClock(n.acked_at).slice(0, 5)}已应` : '';
        return `${n.holder}（${NOTICE_WORDS[n.state] || n.state}${acked}）`;
      })
      .join('、');
  // calloutText says whom a LIVE warning's 叫应 reached (the commanders,
  // texted past respond_by) and whether it went on to their superiors
  // (叫应升级: the approvers, texted at escalate_by if still unanswered),
  // when, or when it will; '' when nobody was called on.
  const calloutText = (w) => {
    const p = w.prompted;
    if (!p) return '';
    const out = [
      p.no_phone
        ? `${fmtClock(p.at).slice(0, 5)} 未能叫应：指挥长均无手机号，请电话联系`
        : `${fmtClock(p.at).slice(0, 5)} 已叫应指挥长 ${noticesText(p)}`,
    ];
    const e = w.escalated;
    if (e) {
      out.push(
        e.no_phone
          ? `${fmtClock(e.at).slice(0, 5)} 未能升级：值班领导均无手机号，请电话联系`
          : `${fmtClock(e.at).slice(0, 5)} 已升级叫应值班领导 ${noticesText(e)}`,
      );
    } else if (w.prompt && (p.texts || []).some((n) => n.acked_at)) {
      // A commander answered the call: not escalated, though no response started.
      out.push('指挥长已应，不升级叫应（仍未启动响应）');
    } else if (w.prompt && (w.escalates_at || p.escalate_by)) {
      // escalates_at: later than escalate_by after a response was retracted.
      out.push(`${fmtClock(w.escalates_at || p.escalate_by).slice(0, 5)} 仍无响应将升级叫应值班领导`);
    }
    return out.join('；');
  };

  // promptText is a warning's line in the NO RESPONSE prompt, with whom
  // its 叫应 reached.
  const promptText = (w) => {
    const mins = minutesSince(w.prompt_since || w.respond_by);
    const what = `${WARNING_NAMES[w.level] || w.level}预警 ${w.id}`;
    const callout = calloutText(w);
    return drillWord(w)
      ? `${drillMark(w)}${what} 已 ${mins} 分钟无${drillWord(w)}响应：${suggestionText(w)}`
      : `${what} 已 ${mins} 分钟无响应：${suggestionText(w)}${callout ? `（${callout}）` : ''}`;
  };

  // renderPrompt shows, on every page, the warnings whose time to respond
  // has passed with nothing activated (the NO RESPONSE prompt): the LIVE
  // ones first, then, set apart and marked, those of upstream drills,
  // which a drill answers.
  function renderPrompt() {
    const box = $('warning-prompt');
    const due = (modes.warnings || []).filter((w) => w.prompt);
    const live = due.filter((w) => !drillWord(w));
    const drills = due.filter((w) => drillWord(w));
    box.hidden = due.length === 0 || !session.token;
    box.dataset.count = String(due.length);
    box.dataset.live = String(live.length);
    box.dataset.drills = String(drills.length);
    box.classList.toggle('drill-only', live.length === 0 && drills.length > 0);
    const line = (w, i) =>
      el('span', { 'data-warning': w.id, 'data-purpose': w.purpose || 'LIVE' }, i > 0 ? '；' : '', promptText(w));
    box.replaceChildren(
      ...live.map(line),
      drills.length ? el('span', { class: 'drills', 'data-drills': drills.length }, drills.map(line)) : '',
    );
  }

  // renderApprovalPrompt shows, on every page, the LIVE requests that wait
  // for a second person's approval: nothing is sent until someone approves
  // (on its board, or with muster approve), and the request lapses at its
  // deadline.
  function renderApprovalPrompt() {
    const box = $('approval-prompt');
    const waiting = modes.pending || [];
    box.hidden = waiting.length === 0 || !session.token;
    box.dataset.count = String(waiting.length);
    box.replaceChildren(
      ...waiting.map((a, i) =>
        el(
          'span',
          { 'data-activation': a.id },
          i > 0 ? '；' : '',
          el('a', { href: `#/board/${encodeURIComponent(a.id)}` }, a.id),
          ` 等待审批：${a.plan_title || a.plan} ${levelText(a.level, a.level_name)} ${a.region_names || (a.regions || []).join('、')}，` +
            `${a.created_by || '—'} 申请，${a.approval_deadline ? `${fmtClock(a.approval_deadline).slice(0, 5)} 前` : ''}须另一人审批（在其看板审批，或 muster approve ${a.id}）`,
        ),
      ),
    );
  }

  // renderModeSummary shows, on every page, how many regions are in
  // emergency (战时) and standby (临战).
  function renderModeSummary() {
    const box = $('mode-summary');
    if (modes.items === null) {
      box.textContent = modes.error ? '区域状态读取失败' : '';
      return;
    }
    const n = countModes(modes.items);
    box.dataset.emergency = String(n.emergency);
    box.dataset.standby = String(n.standby);
    box.classList.toggle('alert', n.emergency > 0);
    box.classList.toggle('warn', n.emergency === 0 && n.standby > 0);
    box.replaceChildren(
      n.emergency > 0 ? `战时 ${n.emergency} 个区域` : '无战时区域',
      n.standby > 0 ? ` · 临战 ${n.standby}` : '',
      modes.error ? '（刷新失败）' : '',
    );
  }

  // Region names for the modes page, read once per code.
  const regionNames = new Map();

  function regionName(code, onRead) {
    if (regionNames.has(code)) return regionNames.get(code);
    regionNames.set(code, '');
    getJSON(`/api/v1/regions/${encodeURIComponent(code)}`).then(
      (r) => {
        regionNames.set(code, r.name || '');
        onRead();
      },
      () => {},
    );
    return '';
  }

  // ----- the cluster, shown on every page -----

  // The cluster as muster cluster status shows it (GET
  // /api/v1/cluster/status), read with the header every 5 s: each member,
  // who leads, whether it answers the leader and how far its state trails,
  // and whether the leader has a LIVE SMS account. Only a leader knows
  // which members answer it; a follower's page names the leader to ask.
  const CLUSTER_TIMEOUT_MS = 10000; // a node that does not answer its status within this is said not to
  const LAG_WARN = 1000; // entries a member may trail the commit index before it is shown lagging (as /readyz's default --max-lag)
  const ROLE_NAMES = { leader: '主节点', follower: '从节点', nonvoter: '非投票成员' };

  const cluster = {
    st: null, // the last status read, or null before the first
    error: null, // why the last read failed
    denied: false, // the token may not read it
    loading: false,
  };

  // goSeconds reads a Go duration ("35ms", "1m2.5s") as seconds; null for
  // none or anything else.
  const GO_UNITS = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ns: 1e-9 };
  function goSeconds(d) {
    if (!d || !/^(?:[\d.]+(?:h|ms|us|µs|μs|ns|m|s))+$/.test(d)) return d === '0' ? 0 : null;
    let total = 0;
    for (const m of d.matchAll(/([\d.]+)(h|ms|us|µs|μs|ns|m|s)/g)) total += parseFloat(m[1]) * GO_UNITS[m[2]];
    return total;
  }

  // mayReadCluster reports whether the session's token may read the
  // cluster's status (the read permission); yes when the server did not say.
  const mayReadCluster = () => !who || !Array.isArray(who.permissions) || who.permissions.includes('read');

  async function loadCluster() {
    if (cluster.loading || !session.token) return;
    if (!mayReadCluster()) {
      cluster.denied = true;
      renderCluster();
      return;
    }
    cluster.loading = true;
    try {
      cluster.st = await getJSON('/api/v1/cluster/status', AbortSignal.timeout(CLUSTER_TIMEOUT_MS));
      cluster.error = null;
      cluster.denied = false;
    } catch (e) {
      if (e instanceof AuthError) return;
      if (e instanceof APIError && e.status === 403) cluster.denied = true;
      else cluster.error = e;
    } finally {
      cluster.loading = false;
    }
    renderCluster();
  }

  // memberRole is a member's part: leader, follower (a voter that does not
  // lead) or nonvoter.
  const memberRole = (s) => (s.leader ? 'leader' : s.suffrage === 'Voter' ? 'follower' : 'nonvoter');

  // memberContact says whether member s answers the leader, as the node
  // serving the page (st) knows it: heard is true, false, or null where it
  // cannot know (a follower does not).
  function memberContact(st, s) {
    if (s.log_failing) return { heard: false, text: `无法写入日志（${s.log_failing}），不计入多数` };
    if (typeof s.reachable !== 'boolean') return { heard: null, text: s.id === st.node_id ? '本节点' : '—' };
    if (s.id === st.node_id) return { heard: true, text: '正常（本节点）' };
    if (s.reachable) return { heard: true, text: '正常' };
    const secs = goSeconds(s.last_contact);
    return { heard: false, text: secs === null ? '未联络（本主节点当选以来）' : `已 ${Math.floor(secs)} 秒未联络` };
  }

  // memberLag is how many entries member s's state trails the commit index
  // st knows, or null when unknown: the leader knows each member's (as it
  // last reported it, every 2 s), a follower only its own.
  function memberLag(st, s) {
    const applied = s.applied_index || (s.id === st.node_id ? st.applied_index : 0);
    return applied ? Math.max(0, (st.commit_index || 0) - applied) : null;
  }

  // consoleURL is a member's console, from its HTTP address (HOST:PORT,
  // reached as this page is, or a URL); '' when it has none.
  const consoleURL = (addr) => (!addr ? '' : /^https?:\/\//.test(addr) ? `${addr.replace(/\/+$/, '')}/` : `${location.protocol}//${addr}/`);

  // renderCluster draws the cluster line in the header (every page), the
  // members under it (on a click), and, when the leader has no LIVE SMS
  // account, a line saying LIVE call-ups will be refused.
  function renderCluster() {
    const box = $('cluster');
    const summary = $('cluster-summary');
    const body = $('cluster-body');
    const liveBox = $('cluster-live-sms');
    const st = cluster.st;
    if (!session.token) return; // signed out while it was read
    box.classList.remove('problem');
    liveBox.hidden = true;
    if (cluster.denied) {
      box.dataset.state = 'denied';
      summary.textContent = '集群状态：无权查看';
      body.replaceChildren(el('p', { class: 'hint' }, '该令牌没有读取集群状态的权限。'));
      return;
    }
    if (!st) {
      box.dataset.state = cluster.error ? 'error' : 'loading';
      box.classList.toggle('problem', !!cluster.error);
      summary.textContent = cluster.error ? `集群状态读取失败：${clusterErrorText(cluster.error)}` : '集群：读取中…';
      body.replaceChildren();
      return;
    }
    const servers = st.servers || [];
    const leader = servers.find((s) => s.leader);
    const knows = servers.some((s) => typeof s.reachable === 'boolean'); // this node leads
    const rows = servers.map((s) => {
      const c = memberContact(st, s);
      const lag = memberLag(st, s);
      return { s, c, lag, role: memberRole(s), lagging: lag !== null && lag > LAG_WARN };
    });
    const problems = rows.filter((r) => r.c.heard === false || r.lagging);
    const stale = cluster.error ? '（刷新失败）' : '';
    box.dataset.leader = st.leader_id || '';
    box.dataset.problems = String(problems.length);
    let line;
    if (!st.leader_id) {
      box.dataset.state = 'no-leader';
      line = `集群：本节点（${st.node_id}）没有主节点（正在选举，或多数节点失联）`;
    } else {
      box.dataset.state = problems.length ? 'problem' : 'ok';
      const what = problems.map((r) => `${r.s.id} ${r.c.heard === false ? r.c.text : `落后 ${r.lag} 条`}`).join('；');
      line =
        `集群 ${servers.length} 个节点 · 主节点 ${st.leader_id}` +
        (what ? ` · ${what}` : knows ? ' · 均正常' : ' · 各节点联络情况只有主节点知道');
    }
    box.classList.toggle('problem', box.dataset.state !== 'ok' || !!cluster.error);
    summary.textContent = line + stale;

    if (leader && leader.no_live_sms) {
      liveBox.hidden = false;
      liveBox.dataset.node = leader.id;
      liveBox.textContent = `主节点 ${leader.id} 未配置真实短信账号：LIVE 通知将被拒绝（409），演练和测试不受影响。请为该节点配置真实短信账号（--twilio-account-sid 等）后重启。`;
    }

    const tbody = el(
      'tbody',
      { id: 'cluster-rows' },
      rows.map((r) =>
        el(
          'tr',
          {
            'data-node': r.s.id,
            'data-role': r.role,
            'data-heard': r.c.heard === null ? 'unknown' : String(r.c.heard),
            'data-lag': r.lag === null ? null : r.lag,
            'data-no-live-sms': r.s.no_live_sms ? 'true' : null,
            class: [r.c.heard === false ? 'down' : '', r.lagging ? 'lagging' : ''].filter(Boolean).join(' ') || null,
          },
          el('td', {}, r.s.id, r.s.id === st.node_id ? el('span', { class: 'sub' }, '（本节点）') : ''),
          el('td', { class: 'opt' }, el('div', {}, r.s.http_addr || '—'), el('div', { class: 'sub' }, `raft ${r.s.raft_addr || '—'}`)),
          el('td', { class: 'role' }, ROLE_NAMES[r.role]),
          el('td', { class: 'contact' }, r.c.text),
          el('td', { class: 'num lag' }, r.lag === null ? '—' : r.lag === 0 ? '已同步' : `落后 ${r.lag} 条`),
          el('td', { class: 'sms' }, r.s.no_live_sms ? (r.s.leader ? '无（LIVE 通知将被拒绝）' : '无（成为主节点时 LIVE 通知将被拒绝）') : '有'),
        ),
      ),
    );
    const notes = [];
    if (st.leader_id && !knows) {
      const url = leader ? consoleURL(leader.http_addr) : '';
      notes.push(
        el(
          'p',
          { class: 'hint', id: 'cluster-ask-leader' },
          `本节点（${st.node_id}）不是主节点：各节点是否在线、落后多少只有主节点知道，请看主节点 ${st.leader_id} 的控制台`,
          url ? ['（', el('a', { href: url, rel: 'noreferrer' }, url), '，同一令牌可用）'] : '',
          '。',
        ),
      );
    }
    body.replaceChildren(
      scrollTable('cluster-members', headRow(['节点', ['地址', 'opt'], '角色', '联络', '落后', '真实短信账号']), tbody),
      ...notes,
      el('p', { class: 'meta' }, `任期 ${st.term}，提交 ${st.commit_index}，本节点已应用 ${st.applied_index}；每 5 秒刷新${stale}`),
    );
  }

  // clusterErrorText is what the cluster line says about a failed read.
  const clusterErrorText = (e) => (e && e.name === 'TimeoutError' ? `本节点 ${CLUSTER_TIMEOUT_MS / 1000} 秒未应答` : errorText(e));

  // ----- pages -----

  function pageError(box, e, what) {
    box.hidden = false;
    box.dataset.reason = unreachable(e) ? 'unreachable' : (e && e.code) || 'error';
    box.textContent = `${what}：${errorText(e)}`;
  }

  // modesPage: every region with a mode record, refreshed with the header.
  function modesPage(root) {
    const info = el('p', { class: 'meta', id: 'modes-read' });
    const err = el('p', { class: 'error', role: 'alert', hidden: true });
    const body = el('tbody', { id: 'modes-rows' });
    const warnBody = el('tbody', { id: 'warning-rows' });
    const warnSection = el(
      'div',
      { id: 'warnings', hidden: true },
      el('h2', {}, '生效中的预警'),
      scrollTable('warnings', headRow(['预警', '级别', '区域', '标题', '响应时限', '叫应']), warnBody),
    );
    root.append(
      el('h1', {}, '区域状态'),
      el('p', { class: 'hint' }, '列出的是切换过状态的区域，状态为该区域实际所处的状态（上级处于战时则随上级）；未列出的区域随上级区域，上级也无记录时为平时。每 5 秒刷新。'),
      info,
      err,
      scrollTable('modes', headRow(['区域', '状态', '级别', ['起始时间', 'opt'], ['操作人', 'opt'], '原因', ['依据', 'opt']]), body),
      warnSection,
    );
    // respondCell says how long is left to respond to a warning, or how
    // long it has gone without a response; tick() keeps it running.
    const respondText = (w) => {
      if (!w.respond_by) return (w.responses || []).length ? '已响应' : '无需响应';
      if ((w.responses || []).some((r) => !r.retracted)) return `已响应（${w.responses.map((r) => r.activation).join('、')}）`;
      const left = Math.floor((new Date(w.respond_by).getTime() - Date.now()) / 1000);
      if (w.prompt || left <= 0) return `已超时 ${minutesSince(w.respond_by)} 分钟，未${drillWord(w)}响应：${suggestionText(w)}`;
      return `剩 ${Math.floor(left / 60)}:${pad(left % 60)}（截止 ${fmtClock(w.respond_by)}）`;
    };
    // The LIVE warnings first, then the upstream drills' (marked, set
    // apart), each in the order the API lists them.
    const renderWarnings = () => {
      const all = modes.warnings || [];
      const ws = [...all.filter((w) => !drillWord(w)), ...all.filter((w) => drillWord(w))];
      warnSection.hidden = ws.length === 0;
      warnBody.replaceChildren(
        ...ws.map((w) =>
          el(
            'tr',
            {
              'data-warning': w.id,
              'data-purpose': w.purpose || 'LIVE',
              class: [w.prompt ? 'prompt' : '', drillWord(w) ? 'drill' : ''].filter(Boolean).join(' ') || null,
            },
            el('td', {}, w.id),
            el(
              'td',
              { class: 'nowrap' },
              drillWord(w) ? el('span', { class: `badge ${w.purpose.toLowerCase()}`, 'data-purpose': w.purpose }, drillMark(w)) : '',
              `${WARNING_NAMES[w.level] || w.level}预警`,
            ),
            el('td', {}, (w.areas || []).map((a) => a.name || a.code).join('、') || (w.regions || []).join('、')),
            el('td', {}, w.headline || w.event || '—'),
            el('td', { class: 'respond-by' }, respondText(w)),
            el('td', { class: 'callout', 'data-escalated': w.escalated ? 'true' : null }, calloutText(w) || '—'),
          ),
        ),
      );
    };
    const tick = setInterval(() => {
      for (const tr of warnBody.querySelectorAll('tr[data-warning]')) {
        const w = (modes.warnings || []).find((x) => x.id === tr.dataset.warning);
        if (w) tr.querySelector('.respond-by').textContent = respondText(w);
      }
    }, 1000);
    const render = () => {
      renderWarnings();
      if (modes.error) pageError(err, modes.error, '区域状态读取失败');
      else err.hidden = true;
      if (modes.items === null) {
        info.textContent = '读取中…';
        return;
      }
      info.textContent = `更新于 ${fmtClock(modes.readAt)}`;
      const items = [...modes.items].sort(
        (a, b) => (MODE_ORDER[modeOf(a)] ?? 9) - (MODE_ORDER[modeOf(b)] ?? 9) || a.region.localeCompare(b.region),
      );
      if (items.length === 0) {
        body.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'empty' }, '所有区域均为平时。')));
        return;
      }
      body.replaceChildren(
        ...items.map((m) => {
          const name = regionName(m.region, render);
          const eff = m.effective;
          const mode = modeOf(m);
          const level = [];
          if (eff ? eff.level : m.level) level.push(levelText(eff ? eff.level : m.level));
          if (m.warning_level) level.push(`${WARNING_NAMES[m.warning_level] || m.warning_level}预警`);
          const why = [
            ...(m.holds || []).map((h) => el('a', { href: `#/board/${encodeURIComponent(h.activation)}` }, h.activation)),
            ...(m.warnings || []).map((w) => el('span', {}, w.warning)),
          ];
          // In recovery (恢复): the call-up whose stand-down left it there.
          if (m.mode === 'recovery' && m.recovery) {
            why.push(el('a', { href: `#/board/${encodeURIComponent(m.recovery.activation)}`, title: '解除后恢复' }, m.recovery.activation));
          }
          // In a mode through an ancestor: that mode first, from where, and
          // the region's own behind it.
          const fromName = eff ? regionName(eff.from, render) || eff.from : '';
          return el(
            'tr',
            { 'data-region': m.region, 'data-mode': mode, 'data-own-mode': m.mode, 'data-from': eff ? eff.from : null },
            el('td', {}, el('div', {}, name || m.region), name ? el('div', { class: 'sub' }, m.region) : null),
            el(
              'td',
              {},
              el('span', { class: `mode ${mode}` }, MODE_NAMES[mode] || mode),
              eff ? el('div', { class: 'sub from' }, `上级 ${fromName} ${MODE_NAMES[mode] || mode}`) : null,
              eff ? el('div', { class: 'sub own' }, `本级：${MODE_NAMES[m.mode] || m.mode}`) : null,
            ),
            el('td', { class: 'nowrap' }, level.length ? level.join('，') : '—'),
            el('td', { class: 'nowrap opt' }, fmtTime(m.since)),
            el('td', { class: 'opt' }, m.by || '—'),
            el('td', {}, standbyReason(m) || m.reason || '—'),
            el('td', { class: 'refs opt' }, why.length ? why : '—'),
          );
        }),
      );
    };
    modes.listeners.add(render);
    render();
    loadModes();
    return () => {
      clearInterval(tick);
      modes.listeners.delete(render);
    };
  }

  // activationsPage: every activation, newest first.
  function activationsPage(root) {
    const ctl = new AbortController();
    const info = el('p', { class: 'meta' }, '读取中…');
    const err = el('p', { class: 'error', role: 'alert', hidden: true });
    const body = el('tbody', { id: 'activation-rows' });
    root.append(
      el('h1', {}, '启动记录'),
      info,
      err,
      scrollTable('activations', headRow(['编号', '性质', ['预案', 'plan'], ['级别', 'opt'], '区域', '状态', ['创建时间', 'opt'], ['人数', 'num']]), body),
    );
    body.addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr[data-id]');
      if (tr && !ev.target.closest('a')) location.hash = `#/board/${encodeURIComponent(tr.dataset.id)}`;
    });
    const load = async () => {
      try {
        const items = [];
        let after = '';
        for (let i = 0; i < MAX_PAGES; i++) {
          const q = after ? `&after=${encodeURIComponent(after)}` : '';
          const d = await getJSON(`/api/v1/activations?limit=1000${q}`, ctl.signal);
          items.push(...(d.items || []));
          if (!d.next) break;
          after = d.next;
        }
        items.reverse();
        err.hidden = true;
        info.textContent = `共 ${items.length} 次启动，更新于 ${fmtClock(new Date())}。点击一行打开报到看板。`;
        if (items.length === 0) {
          body.replaceChildren(el('tr', {}, el('td', { colspan: 8, class: 'empty' }, '还没有启动记录。')));
          return;
        }
        body.replaceChildren(
          ...items.map((a) =>
            el(
              'tr',
              { 'data-id': a.id, 'data-purpose': a.purpose, 'data-status': a.status, class: `clickable ${a.status}` },
              el('td', {}, el('a', { href: `#/board/${encodeURIComponent(a.id)}` }, a.id)),
              el('td', {}, purposeBadge(a.purpose)),
              el('td', { class: 'plan' }, a.plan_title || a.plan),
              el('td', { class: 'nowrap opt' }, levelText(a.level, a.level_name)),
              el('td', {}, a.region_names || (a.regions || []).join('、')),
              el('td', {}, statusText(a)),
              el('td', { class: 'nowrap opt' }, fmtTime(a.created_at)),
              el('td', { class: 'num' }, a.recipients),
            ),
          ),
        );
      } catch (e) {
        if (!quiet(e, ctl.signal)) pageError(err, e, '启动记录读取失败');
      }
    };
    load();
    const timer = setInterval(load, LIST_REFRESH_MS);
    return () => {
      ctl.abort();
      clearInterval(timer);
    };
  }

  // actions serves a panel's buttons: run does one request at a time, the
  // buttons disabled meanwhile, and says in msg what went wrong (say: a
  // text or nodes, with a class: hint, error or done).
  function actions(buttons, msg, signal) {
    let busy = false;
    const say = (t, cls) => {
      msg.className = cls || 'hint';
      msg.replaceChildren(...(Array.isArray(t) ? t : [t]));
    };
    const run = async (what) => {
      if (busy) return;
      busy = true;
      buttons.forEach((b) => (b.disabled = true));
      try {
        await what();
      } catch (e) {
        if (!quiet(e, signal)) say(actionErrorText(e), 'error');
      } finally {
        busy = false;
        buttons.forEach((b) => (b.disabled = false));
      }
    };
    return { run, say };
  }

  // previewWarnings are what the preview found that an approver must read
  // before approving, as muster approve's preview says them: the plan
  // already calling up these people, the people other LIVE call-ups have
  // called up already, the drills it stands down, a repeat the server
  // would refuse, a LIVE call-up refused as the leader has no LIVE SMS
  // account, the server's own warnings (a long SMS).
  function previewWarnings(p) {
    const a = p.activation || {};
    const out = [];
    if ((p.already_open || []).length)
      out.push(['already-open', `已在通知：本预案正以相同用途通知这些区域（${p.already_open.join('、')}），批准后这些人会被再通知一遍。`]);
    if (p.already_called_up > 0) {
      const by = (p.called_up_by || []).map((c) => `${c.id}（${c.plan_title || c.plan} ${levelText(c.level, c.level_name)} ${c.region_names || ''}，${c.people} 人）`);
      out.push([
        'called-up',
        `已被其他实战响应召集：将通知的 ${p.total} 人中有 ${p.already_called_up} 人正被${by.join('、')}召集，批准后他们还会收到本次通知。`,
      ]);
    }
    if ((a.stopped_drills || []).length)
      out.push(['drills-stop', `演练将中止：这些区域正在进行的演练（${a.stopped_drills.join('、')}）会在本次启动时解除。`]);
    if (p.again) out.push(['again', `将被拒绝为重复启动：${p.again}`]);
    if (p.no_live_sms) out.push(['no-live-sms', `将被拒绝：主节点未配置真实短信账号，批准后没有人会收到通知。${p.no_live_sms}`]);
    for (const w of p.warnings || []) out.push(['server', w]);
    return out;
  }

  // previewLines say what an approver approves: the reason, the regions
  // and how many people in each, the total, each role (and how many it
  // lacks), the text the call-up sends (a sample, with its length), the
  // account it goes on and how long sending takes, and the warnings.
  function previewLines(p) {
    const a = p.activation || {};
    const lines = [
      el('li', {}, `事由：${a.reason || '—'}`),
      el('li', {}, `区域：${(p.regions || []).map((r) => `${r.name || r.region} ${r.recipients} 人`).join('、') || '—'}`),
      p.outside_regions ? el('li', { id: 'decide-outside' }, `全预案范围的角色（区域外）：${p.outside_regions} 人`) : null,
      el('li', { id: 'decide-total', 'data-total': p.total }, `共通知 ${p.total} 人${p.merged ? `（其中 ${p.merged} 人身兼多职，只通知一次）` : ''}`),
      (p.roles || []).length
        ? el(
            'li',
            { id: 'decide-roles' },
            `角色：${p.roles.map((r) => `${r.group ? `${r.group}/` : ''}${r.name} ${r.matched} 人${r.shortfall > 0 ? `（应 ${r.count} 人，缺 ${r.shortfall} 人）` : ''}`).join('、')}`,
          )
        : null,
    ];
    if (p.sample) {
      lines.push(
        el(
          'li',
          {},
          `短信示例（发给 ${p.sample.name}，${p.sample.chars} 字，${p.sample.segments} 条）：`,
          el('blockquote', { id: 'decide-sample' }, p.sample.text),
        ),
      );
    }
    const send = p.send || {};
    if (send.account) {
      const took = p.estimated_send > 0 ? `，全部发出约需 ${Math.max(1, Math.round(p.estimated_send / 1e9))} 秒` : '';
      lines.push(el('li', { id: 'decide-send' }, `发送账号：${send.account}，号码 ${send.sender || '—'}${took}`));
    }
    const warnings = previewWarnings(p).map(([key, text]) => el('li', { class: 'warning', 'data-warning': key }, text));
    const out = [el('ul', {}, lines)];
    if (warnings.length) out.push(el('ul', { id: 'decide-warnings', class: 'warnings' }, warnings));
    return out;
  }

  // decidePanel is the approver's part of the board of a request that waits
  // for approval: the preview they decide on, then 批准, which names the
  // count of the preview they saw (the server refuses it if the roster
  // changed since), or 驳回 with a reason. The server decides who may: not
  // the requester, nor a viewer's token; its answer is shown here.
  // holderKey is how two holders' names are compared, as the server does
  // (access.HolderKey), near enough: full-width as narrow, case folded,
  // marks between a name's parts and runs of space as one space, none
  // between two Chinese characters.
  const holderKey = (s) =>
    (s || '')
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[·・\-._]/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/(\p{Script=Han}) (?=\p{Script=Han})/gu, '$1');

  // isRequester reports whether the session's token is the requester's of
  // request a: its token, or one held by the person who requested it (the
  // holder of the token it was requested with, requester_lineage). They
  // may neither approve nor reject it; the server refuses them.
  function isRequester(a) {
    if (!who) return false;
    if (who.name && who.name === a.created_by) return true;
    const lineage = a.requester_lineage || [];
    const requester = (lineage[0] && lineage[0].holder) || a.created_by;
    return !!requester && holderKey(who.holder || who.name) === holderKey(requester);
  }

  function decidePanel(id, signal) {
    const path = `/api/v1/activations/${encodeURIComponent(id)}`;
    const detail = el('div', { id: 'decide-detail', hidden: true });
    const msg = el('p', { id: 'decide-msg', role: 'status' });
    const previewBtn = el('button', { id: 'decide-preview', type: 'button' }, '查看审批内容');
    const approveBtn = el('button', { id: 'decide-approve', type: 'button', hidden: true }, '批准');
    const reason = el('input', { id: 'decide-reason', type: 'text', placeholder: '驳回理由（必填）', maxlength: '200' });
    const rejectBtn = el('button', { id: 'decide-reject', type: 'button', class: 'secondary' }, '驳回');
    // The requester is offered neither: one line says who must decide.
    const own = el('p', { id: 'decide-own', class: 'hint', hidden: true });
    const controls = el(
      'div',
      { id: 'decide-controls' },
      el('p', { class: 'hint' }, '先查看将通知的区域、人数和短信，再决定；申请人本人不能批准。'),
      may('approve') && [el('div', { class: 'actions' }, previewBtn), detail, el('div', { class: 'actions' }, approveBtn)],
      may('reject') && el('div', { class: 'actions' }, reason, rejectBtn),
    );
    const box = el('section', { id: 'decide', class: 'decide', hidden: true }, el('h3', {}, '审批'), own, controls);
    const { run, say } = actions([previewBtn, approveBtn, rejectBtn], msg, signal);
    let seen = null; // the total of the preview shown
    previewBtn.addEventListener('click', () =>
      run(async () => {
        say('读取中…');
        const p = await postJSON(`${path}/approve`, { dry_run: true }, signal);
        seen = p.total;
        detail.replaceChildren(...previewLines(p));
        detail.hidden = false;
        approveBtn.textContent = `批准，通知 ${p.total} 人`;
        approveBtn.hidden = false;
        say('');
      }),
    );
    approveBtn.addEventListener('click', () =>
      run(async () => {
        if (seen === null) return;
        const a = await postJSON(`${path}/approve`, { recipients: seen }, signal);
        say(a.status === 'pending_approval' ? '已同意，尚需其他人审批。' : '已批准，开始通知。', 'done');
      }),
    );
    rejectBtn.addEventListener('click', () =>
      run(async () => {
        const why = reason.value.trim();
        if (!why) {
          say('驳回须写明理由。', 'error');
          reason.focus();
          return;
        }
        await postJSON(`${path}/reject`, { reason: why }, signal);
        say('已驳回，不会发送。', 'done');
      }),
    );
    // The outcome (msg) stays in view when the panel goes, as the
    // call-up's state changes.
    return {
      box,
      msg,
      // show shows the panel (on) for request a, whose requester is
      // offered nothing to decide with.
      show(on, a) {
        box.hidden = !on;
        const mine = on && !!a && isRequester(a);
        controls.hidden = mine;
        own.hidden = !mine;
        own.textContent = mine ? `您是 ${a.id} 的申请人，不能审批或驳回：须由另一人在其看板审批或驳回（或 muster approve ${a.id}）。` : '';
      },
    };
  }

  // commandPanel is the commander's part of the board of a call-up in
  // force: 解除响应 (stand-down: what is still to be sent is not sent, and
  // the regions go back when nothing else holds them), confirmed with a
  // second click and only with a reason; and 撤回 (retraction: a
  // correction goes to everyone the call-up may have reached), previewed
  // first: how many people, the text, and the call-ups still in force
  // that also call some of them. The server decides who may (a commander's
  // or an administrator's token); its refusal is shown here.
  function commandPanel(id, signal) {
    const path = `/api/v1/activations/${encodeURIComponent(id)}`;
    const msg = el('p', { id: 'command-msg', role: 'status' });
    const reason = el('input', { id: 'standdown-reason', type: 'text', placeholder: '解除理由（必填）', maxlength: '200' });
    const standDown = el('button', { id: 'standdown', type: 'button', class: 'secondary' }, '解除响应…');
    const confirmStandDown = el('button', { id: 'standdown-confirm', type: 'button', hidden: true }, '确认解除');
    const text = el('textarea', { id: 'retract-message', rows: '2', maxlength: '300', placeholder: '撤回说明，或更正后的通知（必填）' });
    const correct = el('input', { id: 'retract-correct', type: 'checkbox' });
    const previewBtn = el('button', { id: 'retract-preview', type: 'button', class: 'secondary' }, '预览撤回');
    const detail = el('div', { id: 'retract-detail', hidden: true });
    const send = el('button', { id: 'retract-send', type: 'button', hidden: true }, '发送');
    const box = el(
      'section',
      { id: 'command', class: 'decide', hidden: true },
      el('h3', {}, '指挥操作'),
      may('stand_down') && el('div', { class: 'actions' }, reason, standDown, confirmStandDown),
      may('retract') && [
        el('p', { class: 'hint' }, '撤回：发错了通知时，向可能已收到的人发送撤回或更正短信。'),
        el('div', { class: 'actions' }, text),
        el('label', { class: 'hint' }, correct, ' 这是更正后的通知（否则只说明撤回）'),
        el('div', { class: 'actions' }, previewBtn),
        detail,
        el('div', { class: 'actions' }, send),
      ],
    );
    const { run, say } = actions([standDown, confirmStandDown, previewBtn, send], msg, signal);
    let previewed = null; // the message and kind the preview shown was for
    const request = () => ({ message: text.value.trim(), correct: correct.checked });
    // Changing the text or its kind asks for a new preview.
    const unpreview = () => {
      previewed = null;
      send.hidden = true;
      detail.hidden = true;
    };
    text.addEventListener('input', unpreview);
    correct.addEventListener('change', unpreview);
    standDown.addEventListener('click', () => {
      if (!reason.value.trim()) {
        say('解除须写明理由。', 'error');
        reason.focus();
        return;
      }
      confirmStandDown.hidden = false;
      say('确认后，尚未发出的通知不再发送，升级提醒停止。', 'hint');
    });
    confirmStandDown.addEventListener('click', () =>
      run(async () => {
        const a = await postJSON(`${path}/stand-down`, { reason: reason.value.trim() }, signal);
        confirmStandDown.hidden = true;
        if (!a.end_notice) {
          say('已解除响应。', 'done');
          return;
        }
        // Whom the end notice goes to: the stand-down is done whatever
        // this read finds.
        let n = null;
        try {
          n = (await getJSON(`/api/v1/activations/${encodeURIComponent(a.end_notice)}`, signal)).recipients;
        } catch (e) {
          if (quiet(e, signal)) return;
        }
        say(
          [
            '已解除响应。结束通知 ',
            el('a', { id: 'end-notice-link', href: `#/board/${encodeURIComponent(a.end_notice)}` }, a.end_notice),
            typeof n === 'number' ? ` 发给 ${n} 人，告知响应已结束。` : ' 告知已收到通知的人响应已结束。',
          ],
          'done',
        );
      }),
    );
    previewBtn.addEventListener('click', () =>
      run(async () => {
        const req = request();
        if (!req.message) {
          say('撤回须写明说明或更正后的通知。', 'error');
          text.focus();
          return;
        }
        const p = await postJSON(`${path}/retract`, { ...req, dry_run: true }, signal);
        const lines = [
          el('li', { id: 'retract-total', 'data-total': p.recipients }, `将发给 ${p.recipients} 人（可能已收到原通知的人）`),
          el('li', {}, '短信：', el('blockquote', { id: 'retract-text' }, p.text)),
        ];
        for (const c of p.standing || []) {
          lines.push(
            el(
              'li',
              { 'data-standing': c.id },
              `其中 ${c.people} 人另有仍在进行的通知 ${c.id}（${c.plan_title} ${levelText(c.level, c.level_name)} ${c.region_names}），他们收到的更正会说明该通知仍然有效`,
            ),
          );
        }
        detail.replaceChildren(el('ul', {}, lines));
        detail.hidden = false;
        previewed = req;
        send.textContent = `发送${req.correct ? '更正' : '撤回'}给 ${p.recipients} 人`;
        send.hidden = false;
        say('');
      }),
    );
    send.addEventListener('click', () =>
      run(async () => {
        if (!previewed) return;
        const out = await postJSON(`${path}/retract`, previewed, signal);
        const cid = out.correction && out.correction.id;
        send.hidden = true;
        say(['已撤回。', cid ? el('a', { id: 'correction-link', href: `#/board/${encodeURIComponent(cid)}` }, `更正 ${cid}`) : '', cid ? ' 正在发送。' : ''], 'done');
      }),
    );
    // The outcome (msg) stays in view when the panel goes, as the
    // call-up's state changes.
    return {
      box,
      msg,
      show(on) {
        box.hidden = !on;
      },
    };
  }


  // readOnlyPanel stands on a board for a panel the token may not use
  // (whoami says so): one line, shown when the panel would be. It makes no
  // requests, so it has nothing more to say (msg).
  function readOnlyPanel(id, text) {
    const box = el('p', { id, class: 'hint', hidden: true }, text);
    return {
      box,
      msg: document.createTextNode(''),
      show(on) {
        box.hidden = !on;
      },
    };
  }

  // boardPage: one activation's muster board, live from its event stream,
  // or polled when the stream fails.
  function boardPage(root, id) {
    const ctl = new AbortController(); // ends with the page
    const stops = [];
    const path = `/api/v1/activations/${encodeURIComponent(id)}`;

    const title = el('h1', {}, `报到看板 ${id}`);
    const badge = el('span', { id: 'board-purpose' });
    const sub = el('p', { class: 'meta', id: 'board-sub' });
    // decisions says who decided what on the call-up (decisionLines).
    const decisions = el('ul', { id: 'decisions', class: 'decisions', hidden: true });
    const live = el('span', { id: 'live', class: 'feed' });
    const asOf = el('span', { id: 'as-of' }, '读取中…');
    const elapsed = el('span', { id: 'elapsed', class: 'elapsed' });
    const staleNote = el('span', { id: 'stale', class: 'stale-note', hidden: true });
    // cutOffBanner says the node serving the board has no leader (its event
    // stream's node events): the figures are its own copy, standing still.
    const cutOffBanner = el('p', { id: 'cut-off', class: 'banner cut-off', role: 'alert', hidden: true });
    const err = el('p', { id: 'board-error', class: 'error', role: 'alert', hidden: true });
    // What the counts do not show of the people: those who answered 到
    // and then that they cannot come (still counted 到), and the backups
    // the escalation called up in place of silent people.
    const declinedAfter = el('p', { id: 'declined-after-ack', class: 'flag', role: 'alert', hidden: true });
    const standIns = el('div', { id: 'stand-ins', class: 'stand-ins', hidden: true });
    // approval says why a request that has not started shows no figures:
    // it waits for approval, or never will start.
    const approval = el('p', { id: 'approval', class: 'banner', role: 'status', hidden: true });
    // A token that may not decide or command (a viewer's) is not offered
    // the panels; one line says so instead.
    const canDecide = may('approve') || may('reject');
    const canCommand = may('stand_down') || may('retract');
    const viewOnly = !canDecide && !canCommand ? MSG_VIEW_ONLY : '';
    const decide = canDecide ? decidePanel(id, ctl.signal) : readOnlyPanel('decide-readonly', viewOnly || '该令牌不能审批。');
    const command = canCommand ? commandPanel(id, ctl.signal) : readOnlyPanel('command-readonly', viewOnly || '该令牌不能解除或撤回。');
    const totals = el('div', { id: 'totals', class: 'stats' });
    const checkpoints = el('div', { id: 'checkpoints', class: 'stats small' });
    const regionsBody = el('tbody', { id: 'region-rows' });
    const gridsBody = el('tbody', { id: 'grid-rows' });
    const regionsHead = el('tr');
    const gridsHead = el('tr');
    root.append(
      el('div', { class: 'board-head' }, title, badge),
      sub,
      decisions,
      approval,
      decide.box,
      decide.msg,
      command.box,
      command.msg,
      cutOffBanner,
      el('p', { class: 'status-line' }, live, asOf, elapsed, staleNote),
      err,
      declinedAfter,
      totals,
      checkpoints,
      standIns,
      el('h2', {}, '分区汇总'),
      scrollTable('board', regionsHead, regionsBody),
      el('h2', {}, '网格明细'),
      scrollTable('board', gridsHead, gridsBody),
    );

    const setLive = (m) => {
      live.dataset.live = m;
      live.className = `feed ${m}`;
      live.textContent = LIVE_NAMES[m];
    };

    let lastStatus = '';
    // noAnswers is set for a correction (retracts set): it takes no
    // answers, so its board shows no 报到 rate or 未回复 to alarm anyone.
    let noAnswers = false;
    // endNotice is set for the notice that a call-up ended (isEndNotice),
    // which takes no answers either, but withdraws nothing.
    let endNotice = false;
    const renderHead = (a) => {
      lastStatus = a.status;
      if (!!a.retracts !== noAnswers || isEndNotice(a) !== endNotice) {
        noAnswers = !!a.retracts;
        endNotice = isEndNotice(a);
        if (shown) renderBoard(shown);
      }
      renderApproval(a);
      renderPeople(a);
      const lines = decisionLines(a);
      decisions.hidden = lines.length === 0;
      decisions.replaceChildren(...lines);
      badge.replaceChildren(purposeBadge(a.purpose));
      sub.replaceChildren(
        [a.plan_title || a.plan, levelText(a.level, a.level_name), a.region_names, statusText(a), `发起：${a.created_by || '—'}`]
          .filter(Boolean)
          .join(' · '),
        // A correction, or an end notice, says what it tells those the
        // call-up reached.
        a.retracts && a.message
          ? el('span', { id: 'correction-message', class: 'correction' }, `${isEndNotice(a) ? '通知内容' : '更正内容'}：${a.message}`)
          : '',
      );
    };

    // renderPeople says, as muster status does, how many answered 到 and
    // then that they cannot come (declined_after_ack: counted once a
    // person), and who stands in for whom: the backups the status names
    // (the first few), each with their own state, and how many more.
    const renderPeople = (a) => {
      const n = ((a.counters || {}).dispatch || {}).declined_after_ack || 0;
      declinedAfter.hidden = n === 0;
      declinedAfter.dataset.count = String(n);
      declinedAfter.textContent = n ? `${n} 人先回复到岗，后又表示不能到岗：仍计为已报到（以第一次回复为准），请与其核实。` : '';
      const s = a.stand_ins;
      standIns.hidden = !s || !s.count;
      standIns.dataset.count = String((s && s.count) || 0);
      if (standIns.hidden) {
        standIns.replaceChildren();
        return;
      }
      const first = s.first || [];
      const more = s.count - first.length;
      standIns.replaceChildren(
        el('h2', {}, `替补人员（${s.count} 人）`),
        el(
          'ul',
          { class: 'people' },
          first.map((b) => {
            const f = b.for || {};
            const grid = f.grid_name || f.grid;
            return el(
              'li',
              { 'data-backup': b.backup, 'data-for': f.person, 'data-state': b.state },
              `${b.name || b.backup} 替补 ${f.name || f.person}${grid ? `（${grid}）` : ''}`,
              el('span', { class: 'sub' }, ` · ${STATE_NAMES[b.state] || b.state || '—'}`),
              b.for_state === 'acked' ? el('span', { class: 'sub', 'data-for-state': 'acked' }, ` · ${f.name || f.person} 已回复到岗，无需替补`) : null,
            );
          }),
        ),
        more > 0 ? el('p', { class: 'hint' }, `另有 ${more} 人未列出（接收人名单的 backup_for 列出全部）。`) : '',
      );
    };

    // renderApproval shows the banner of a request that has not started,
    // and hides the board's figures, all zero until it starts.
    const renderApproval = (a) => {
      const deadline = a.approval_deadline ? fmtClock(a.approval_deadline).slice(0, 5) : '';
      const count = a.recipients ? `，预计通知 ${a.recipients} 人` : '';
      let text = '';
      if (a.status === 'pending_approval') {
        const who = (a.approvals_required || 2) > 2 ? `等待审批（需 ${a.approvals_required} 人同意）` : '等待第二人审批';
        text = `${who}${deadline ? `（截止 ${deadline}）` : ''}，尚未发送${count}。`;
      } else if (a.status === 'rejected') {
        const no = (a.decisions || []).find((d) => !d.approve);
        text = `审批已驳回${no && no.by ? `（${no.by}${no.reason ? `：${no.reason}` : ''}）` : ''}，未发送，无人被通知。`;
      } else if (a.status === 'approval_expired') {
        text = `审批已过期${deadline ? `（截止 ${deadline} 前无人批准）` : ''}，未发送，无人被通知。`;
      }
      approval.hidden = !text;
      approval.dataset.status = text ? a.status : '';
      approval.textContent = text;
      root.classList.toggle('not-started', !!text);
      decide.show(a.status === 'pending_approval', a);
      command.show(a.status === 'active' && !a.retraction && !a.retracts);
    };

    const header = (tr, first, b) => {
      if (noAnswers) {
        tr.replaceChildren(el('th', {}, first), el('th', { class: 'num' }, '已发送/应到'), el('th', {}, '回复'));
        return;
      }
      tr.replaceChildren(
        el('th', {}, first),
        el('th', { class: 'num' }, '报到/应到'),
        el('th', {}, '报到率'),
        ...(b.checkpoints || []).map((m) => el('th', { class: 'num opt' }, `T+${m} 分钟`)),
        el('th', { class: 'num opt' }, '不能到'),
        el('th', { class: 'num opt' }, '失败'),
        el('th', { class: 'num' }, '未回复'),
      );
    };

    const bar = (pct) => {
      const fill = el('span', { class: 'fill' });
      fill.style.width = `${Math.min(100, Math.max(0, pct || 0))}%`; // CSSOM, allowed by the page's policy
      const level = pct >= 80 ? 'good' : pct >= 50 ? 'fair' : 'low';
      return el('div', { class: `bar ${level}` }, fill, el('em', {}, fmtPct(pct)));
    };

    // A grid's row: its name, then what a correction shows (sent out of
    // all, no answers taken) or the 报到 figures.
    const row = (r) =>
      el(
        'tr',
        { 'data-code': r.code, 'data-acked': r.acked, 'data-recipients': r.recipients, class: r.outside ? 'outside' : null },
        el(
          'td',
          { class: 'name' },
          el('div', {}, r.name || r.code, r.outside ? el('span', { class: 'tag' }, '区外') : null),
          r.path ? el('div', { class: 'sub' }, r.path) : null,
        ),
        ...(noAnswers
          ? [el('td', { class: 'num ratio' }, `${outOf(r)} / ${r.recipients}`), el('td', { class: 'na' }, NO_ANSWERS)]
          : [
              el('td', { class: 'num ratio' }, `${r.acked} / ${r.recipients}`),
              el('td', { class: 'pct' }, bar(r.acked_pct)),
              ...(r.ack_by || []).map((a) =>
                el(
                  'td',
                  { class: `num opt${checkpointClass(a)}`, title: checkpointTitle(a) },
                  `${a.acked}（${fmtPct(a.pct)}）`,
                ),
              ),
              el('td', { class: 'num opt' }, r.declined),
              el('td', { class: 'num opt' }, r.failed),
              el('td', { class: 'num' }, r.unanswered),
            ]),
      );

    let since = null; // the last board's elapsed and when it was drawn; null once stood down
    const renderBoard = (b) => {
      const t = b.total || {};
      const ended = b.status !== 'active' && b.status !== 'pending_approval';
      const shown = TOTALS.filter(([key]) => !(noAnswers && ANSWER_TOTALS.has(key)) && !(ONLY_IF_ANY.has(key) && !t[key]));
      const tiles = shown.map(([key, label, value]) => {
        const v = value ? value(t) : (t[key] ?? 0);
        return el(
          'div',
          { class: `stat ${key}${v ? '' : ' zero'}`, 'data-key': key, 'data-value': v },
          el('div', { class: 'label' }, (noAnswers && CORRECTION_LABELS[key]) || (ended && ENDED_LABELS[key]) || label),
          el('div', { class: 'value' }, v),
          key === 'acked' ? el('div', { class: 'sub' }, fmtPct(t.acked_pct)) : null,
        );
      });
      if (noAnswers) {
        tiles.push(
          el(
            'div',
            { class: 'stat answers na', 'data-key': 'answers' },
            el('div', { class: 'label' }, '报到'),
            el('div', { class: 'value' }, NO_ANSWERS),
            el('div', { class: 'sub' }, endNotice ? '结束通知，不接收回复' : '更正通知，不接收回复'),
          ),
        );
      }
      totals.replaceChildren(...tiles);
      checkpoints.replaceChildren(
        ...(noAnswers || !b.started_at ? [] : t.ack_by || []).map((a) =>
          el(
            'div',
            { class: `stat${stale && !a.cut && !a.reached ? ' stale' : checkpointClass(a)}`, 'data-minutes': a.minutes, 'data-value': a.acked, title: checkpointTitle(a) },
            el(
              'div',
              { class: 'label' },
              `T+${a.minutes} 分钟内报到${a.cut ? '（已解除，计至解除时）' : a.reached ? '' : stale ? '（数据未更新）' : '（计数中）'}`,
            ),
            el('div', { class: 'value' }, a.acked),
            el('div', { class: 'sub' }, fmtPct(a.pct)),
          ),
        ),
      );
      header(regionsHead, '区域', b);
      header(gridsHead, '网格', b);
      const empty = (n) => el('tr', {}, el('td', { colspan: n, class: 'empty' }, '暂无数据。'));
      const cols = noAnswers ? 3 : 6 + (b.checkpoints || []).length;
      regionsBody.replaceChildren(...((b.regions || []).length ? b.regions.map(row) : [empty(cols)]));
      gridsBody.replaceChildren(...((b.grids || []).length ? b.grids.map(row) : [empty(cols)]));
      asOf.textContent = `更新于 ${fmtTime(b.as_of)}`;
      asOf.dataset.asOf = b.as_of || '';
      // Only a running call-up's clock runs on: a stood-down one's stopped,
      // a request that has not started has none.
      // A stale board's clock stops where its figures are.
      since = b.status === 'active' && !stale ? { ns: b.elapsed || 0, at: performance.now() } : null;
      elapsed.textContent = since ? fmtElapsed(since.ns) : b.status === 'active' ? `${fmtElapsed(b.elapsed)}（已停止计时）` : '';
      elapsed.dataset.running = since ? 'true' : 'false';
    };

    // stale is set while reads fail: the figures shown are those of the
    // last board read (at goodAt), the clock stops and the page says so.
    // It is set too while the node has no leader (cutOff: what its stream
    // said of it, and when, by this page's clock, the node last heard from
    // a leader): its figures stand still from then.
    let stale = false;
    let goodAt = performance.now();
    let cutOff = null;
    const renderStale = () => {
      staleNote.hidden = !stale;
      if (stale) staleNote.textContent = `数据已 ${Math.floor((performance.now() - goodAt) / 1000)} 秒未更新`;
      cutOffBanner.hidden = !cutOff;
      if (cutOff) {
        const n = cutOff.node;
        const secs = Math.floor((performance.now() - cutOff.at) / 1000);
        const what = NO_KNOWN_LEADER.test(n.not_ready || '')
          ? cutOff.never
            ? `本节点（${n.node}）没有主节点`
            : `本节点（${n.node}）已与集群失联 ${secs} 秒`
          : `本节点（${n.node}）未跟上集群（${n.not_ready}）`;
        cutOffBanner.textContent = `${what}，以下数字可能不是最新；请打开其他节点的控制台（同一令牌可用）。`;
      }
    };

    // setNode takes what the event stream says of the node serving it. A
    // node that is not ready sends its own copy: the page says so over the
    // board, stops the clock, and stops saying 实时更新 until it has a
    // leader again, when the board is read afresh.
    const setNode = (n) => {
      if (!n.ready) {
        const age = typeof n.leader_contact_age_s === 'number' ? n.leader_contact_age_s : null;
        const at = age === null ? performance.now() : performance.now() - age * 1000;
        cutOff = { node: n, at: cutOff ? Math.min(cutOff.at, at) : at, never: age === null };
        cutOffBanner.dataset.node = n.node;
        setLive('cutoff');
        goodAt = cutOff.at;
        stale = false; // redrawn as stale below
        setStale(true);
        return;
      }
      if (!cutOff) return;
      cutOff = null;
      setLive('stream');
      renderStale();
      refresh();
    };
    const setStale = (on) => {
      if (on === stale) return;
      stale = on;
      root.classList.toggle('stale', on);
      if (shown) renderBoard(shown);
      renderStale();
    };

    // The time since the activation runs on between boards: from the last
    // board's (since), by this page's own clock since it was drawn.
    const ticker = setInterval(() => {
      if (since) elapsed.textContent = fmtElapsed(since.ns + (performance.now() - since.at) * 1e6);
      renderStale();
    }, 1000);
    stops.push(() => clearInterval(ticker));

    // missing ends the page of an activation that does not exist: nothing
    // to follow or poll.
    const missing = () => {
      ctl.abort();
      for (const f of stops) f();
      root.replaceChildren(
        el('h1', {}, `报到看板 ${id}`),
        el('p', { id: 'board-missing', class: 'error', role: 'alert' }, `没有这个启动记录 ${id}：请检查编号。`),
        el('p', {}, el('a', { href: '#/activations' }, '查看全部启动记录')),
      );
    };
    const isMissing = (e) => e instanceof APIError && e.status === 404;

    // showBoard draws a board unless a newer one was drawn since it was
    // asked for (seq): a board read before a stream's board event must
    // not replace it.
    let boardSeq = 0;
    let shown = null; // the whole board last drawn
    const showBoard = (b, seq) => {
      if (seq !== boardSeq) return;
      shown = b;
      // Without a leader a board read is the node's own copy: still stale.
      goodAt = cutOff ? cutOff.at : performance.now();
      stale = !!cutOff;
      root.classList.toggle('stale', stale);
      renderBoard(b);
      renderStale();
      err.hidden = true;
    };

    // merge applies a board event that carries only the rows that changed
    // (partial) to the board last drawn: its rows of the same codes are
    // replaced, new ones put in code order. Without a board to apply it to
    // (a stream's events always start whole) it reads the whole board.
    const merge = (d) => {
      if (!d.partial) return d;
      if (!shown) {
        refresh();
        return null;
      }
      const rows = (old, changed) => {
        const byCode = new Map((old || []).map((r) => [r.code, r]));
        for (const r of changed || []) byCode.set(r.code, r);
        return [...byCode.values()].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
      };
      return { ...d, regions: rows(shown.regions, d.regions), grids: rows(shown.grids, d.grids) };
    };

    // refresh reads the board; calls while one is in flight fold into one
    // more read after it.
    let reading = false;
    let again = false;
    const refresh = async () => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          const seq = ++boardSeq;
          showBoard(await getJSON(`${path}/board`, ctl.signal), seq);
        } while (again && !ctl.signal.aborted);
      } catch (e) {
        if (quiet(e, ctl.signal)) return;
        if (isMissing(e)) {
          missing();
          return;
        }
        pageError(err, e, '看板读取失败');
        setStale(true);
      } finally {
        reading = false;
      }
    };

    // follow reads the event stream with the board: every status event comes
    // with the board from the same read, so the two always agree and no
    // console asks the node for the board on its own. When the stream fails
    // or stalls, the board is polled instead and the stream tried again later.
    const follow = async () => {
      setLive('connecting');
      const stream = new AbortController();
      const signal = AbortSignal.any([ctl.signal, stream.signal]);
      let watchdog = 0;
      const kick = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => stream.abort(), STALL_MS);
      };
      stops.push(() => clearTimeout(watchdog));
      try {
        kick();
        const res = await api(`${path}/events?board=true`, { signal, accept: 'text/event-stream' });
        setLive('stream');
        await readEvents(res.body, kick, (name, data) => {
          if (name === 'error') {
            let msg = data;
            try {
              msg = JSON.parse(data).error.message;
            } catch (e) {
              // keep the raw text
            }
            throw new Error(msg);
          }
          if (name === 'status') renderHead(JSON.parse(data));
          if (name === 'node') setNode(JSON.parse(data));
          if (name === 'board') {
            const b = merge(JSON.parse(data));
            if (b) showBoard(b, ++boardSeq);
          }
        });
        clearTimeout(watchdog);
        if (ctl.signal.aborted) return;
        const never = NEVER_STARTS.has(lastStatus);
        if (lastStatus !== 'stood_down' && !never) throw new Error('stream ended early');
        // Stood down with nothing in flight, or never to start: the server
        // ended the stream.
        await refresh();
        setLive(never ? 'never' : 'ended');
      } catch (e) {
        clearTimeout(watchdog);
        cutOff = null; // a stream no longer says it: polling reads at the cluster's consistency
        if (ctl.signal.aborted || e instanceof AuthError) return;
        if (isMissing(e)) {
          missing();
          return;
        }
        poll();
      }
    };

    const poll = () => {
      setLive('polling');
      refresh();
      const timer = setInterval(refresh, REFRESH_MS);
      const retry = setTimeout(() => {
        clearInterval(timer);
        follow();
      }, RETRY_STREAM_MS);
      stops.push(() => clearInterval(timer), () => clearTimeout(retry));
    };

    getJSON(path, ctl.signal).then(renderHead, (e) => {
      if (quiet(e, ctl.signal)) return;
      if (isMissing(e)) missing();
      else pageError(err, e, '启动记录读取失败');
    });
    refresh();
    follow();
    return () => {
      ctl.abort();
      for (const f of stops) f();
    };
  }

  // ----- login and routing -----

  let leave = null; // stops the current page

  function leavePage() {
    if (leave) leave();
    leave = null;
  }

  function showLogin(message) {
    leavePage();
    stopModes();
    $('view').hidden = true;
    $('view').replaceChildren();
    $('nav').hidden = true;
    $('logout').hidden = true;
    $('mode-summary').hidden = true;
    $('warning-prompt').hidden = true;
    $('approval-prompt').hidden = true;
    $('cluster').hidden = true;
    $('cluster-live-sms').hidden = true;
    $('login').hidden = false;
    const e = $('login-error');
    e.hidden = !message;
    e.textContent = message || '';
    $('token').focus();
  }

  function signOut(message) {
    session.clear();
    who = null;
    modes.items = null;
    modes.warnings = null;
    cluster.st = null;
    cluster.error = null;
    cluster.denied = false;
    showLogin(message);
  }

  async function login(ev) {
    ev.preventDefault();
    const input = $('token');
    const button = $('login-submit');
    const errBox = $('login-error');
    const token = input.value.trim();
    const fail = (msg) => {
      errBox.hidden = false;
      errBox.textContent = msg;
    };
    if (!token) {
      fail('请先粘贴令牌。');
      return;
    }
    button.disabled = true;
    try {
      const res = await fetch('/api/v1/modes', { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
      if (res.status === 401) {
        fail(MSG_BAD_TOKEN);
        return;
      }
      if (res.status === 403) {
        fail('该令牌没有查看权限，请换一个令牌。');
        return;
      }
      if (!res.ok) {
        const e = await errorOf(res);
        fail(`登录失败：${e.message}`);
        return;
      }
      session.set(token);
      input.value = '';
      await start();
    } catch (e) {
      fail(`无法连接服务器：${e.message}`);
    } finally {
      button.disabled = false;
    }
  }

  function route() {
    if (!session.token) {
      showLogin('');
      return;
    }
    leavePage();
    const view = $('view');
    view.replaceChildren();
    const hash = location.hash || '#/modes';
    let name = '';
    let m;
    if (hash === '#/modes') {
      name = 'modes';
      leave = modesPage(view);
    } else if (hash === '#/activations') {
      name = 'activations';
      leave = activationsPage(view);
    } else if ((m = /^#\/board\/([^/]+)$/.exec(hash))) {
      name = 'board';
      leave = boardPage(view, decodeURIComponent(m[1]));
    } else {
      view.append(el('h1', {}, '没有这个页面'), el('p', {}, el('a', { href: '#/modes' }, '返回区域状态')));
    }
    view.dataset.page = name;
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.route === name);
    }
  }

  // start shows the signed-in console, once it has asked what the token
  // may do (whoami; an older server, which cannot say, leaves who null).
  async function start() {
    const token = session.token;
    let said = null;
    try {
      said = await getJSON('/api/v1/whoami', AbortSignal.timeout(WHOAMI_MS));
    } catch (e) {
      if (e instanceof AuthError) return; // signed out: the login form says why
    }
    if (session.token !== token) return; // signed out, or in with another token, meanwhile
    who = said;
    $('login').hidden = true;
    $('login-error').hidden = true;
    $('nav').hidden = false;
    $('logout').hidden = false;
    $('mode-summary').hidden = false;
    $('cluster').hidden = false;
    $('view').hidden = false;
    startModes();
    route();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', () => signOut(''));
    window.addEventListener('hashchange', () => {
      if (session.token) route();
    });
    if (session.token) start();
    else showLogin('');
  });
})();
