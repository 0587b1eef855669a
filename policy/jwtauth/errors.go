package jwtauth

import (
	"fmt"
	"strconv"
)

// Kind groups the reasons a token is refused, for the status a gateway
// answers with.
type Kind int

const (
	// Malformed: not a compact JWS at all, or too large.
	Malformed Kind = iota + 1
	// Invalid: well-formed but refused: signature, algorithm, issuer, claims.
	Invalid
	// Unavailable: the issuer's keys could not be had in time; the token
	// may be fine.
	Unavailable
)

func (k Kind) String() string {
	switch k {
	case Malformed:
		return "malformed"
	case Invalid:
		return "invalid"
	case Unavailable:
		return "unavailable"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Reasons Verify gives in Error.Reason: short, stable, for metrics labels.
const (
	ReasonMalformed         = "malformed"          // not three base64url segments, or a header/claims that is not a JSON object
	ReasonTooLarge          = "too_large"          // token over MaxTokenBytes or header over MaxHeaderBytes
	ReasonAlgNotAllowed     = "alg_not_allowed"    // "alg" not pinned for the issuer (this includes none and HS*)
	ReasonUnsupportedHeader = "unsupported_header" // "crit" or "b64" in the header: no JWS extensions are understood
	ReasonUnknownIssuer     = "unknown_issuer"     // "iss" missing or not configured
	ReasonUnknownKID        = "unknown_kid"        // no key of the issuer has the token's kid, even after a refresh
	ReasonAlgKeyMismatch    = "alg_key_mismatch"   // a key was found but is of a type (or curve, or declared alg) that does not fit "alg"
	ReasonBadSignature      = "bad_signature"      // the signature does not verify
	ReasonExpired           = "expired"            // exp passed (beyond leeway)
	ReasonNotYetValid       = "not_yet_valid"      // nbf in the future (beyond leeway)
	ReasonIssuedInFuture    = "issued_in_future"   // iat in the future (beyond leeway)
	ReasonWrongAudience     = "wrong_audience"     // aud missing or without any configured audience
	ReasonMissingExp        = "missing_exp"        // no exp
	ReasonBadClaim          = "bad_claim"          // a registered claim of the wrong JSON type (e.g. exp as a string)
	ReasonKeysUnavailable   = "keys_unavailable"   // the issuer's keys were never fetched and could not be in time
)

// Error says why a token was refused. Reason is for logs and metrics,
// never for the client.
type Error struct {
	Kind   Kind
	Reason string // short, stable, snake_case; one of the Reason constants
	Detail string // longer, for the log line; attacker-supplied values in it are quoted and cut short
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "jwtauth: " + e.Reason
	}
	return "jwtauth: " + e.Reason + ": " + e.Detail
}

func refuse(kind Kind, reason, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// quoted makes a token-supplied string safe and short for a log line.
func quoted(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
