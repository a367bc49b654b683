package twiliosim

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
)

// Signature returns the X-Twilio-Signature Twilio sends with a form POST to
// fullURL: base64 (standard, padded) of HMAC-SHA1 keyed by authToken over
// fullURL exactly as given (query included) followed by each parameter name
// and value, names in byte order. For a repeated name only the first value is
// signed, which is what twilio-go's RequestValidator checks.
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	for _, k := range keys {
		mac.Write([]byte(k))
		if vs := params[k]; len(vs) > 0 {
			mac.Write([]byte(vs[0]))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
