package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"muster/notify"
)

// newRecipientCmd is muster recipient: what is done to one person of a
// call-up.
func newRecipientCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "recipient", Short: "One person of a call-up: take them off it"}
	cmd.AddCommand(newRecipientCancelCmd(g))
	return cmd
}

// newRecipientCancelCmd is muster recipient cancel: one person taken off
// an open call-up (someone deleted from the roster, say, whom the call-up
// would go on calling).
func newRecipientCancelCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel ACTIVATION PERSON --reason TEXT",
		Short: "Take one person off an open call-up: no more SMS, reminders or calls to them, and their escalation ends",
		Long: `Take one person off an open call-up. Nothing more of it is sent to them:
not the call-up SMS if it has not gone out, no reminder, no call; no backup
is called up for them and their superior is no longer told of their
silence. They count as cancelled (the board's 已取消), not as silent. A
message or call already in flight cannot be called back, and an answer
they give afterwards is kept as a note. Deleting someone from the roster
does not take them off the call-ups already running: muster person delete
names those that still call them up.
Needs the activate permission, as stand-down; the cluster must run rules 13.`,
		Args: needArgs("ACTIVATION", "PERSON"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErrorf("--reason is required")
			}
			c := newClient(g, cmd)
			var raw []byte
			path := "/api/v1/activations/" + url.PathEscape(args[0]) + "/recipients/" + url.PathEscape(args[1]) + "/cancel"
			if err := c.postJSON(path, map[string]any{"reason": reason}, &raw); err != nil {
				return err
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var x notify.Cancellation
				if err := json.Unmarshal(raw, &x); err != nil {
					return err
				}
				fmt.Fprint(w, cancellationText(x))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why they are taken off (kept in the audit trail)")
	return cmd
}

// cancellationText says what taking a person off a call-up did.
func cancellationText(x notify.Cancellation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s taken off call-up %s by %s (was %s): nothing more of it is sent to %s\n", x.Person, x.Name, x.Activation, x.By, x.From, x.Phone)
	if x.Skipped > 0 {
		fmt.Fprintf(&b, "%s queued to them skipped\n", count(x.Skipped, "reminder or call", "reminders and calls"))
	}
	return b.String()
}
