package registry

import "fmt"

// The errors below are what a registry client observes. They carry the facts a container runtime
// needs to word its own message (the runtime package turns them into containerd's exact text).

// NotFoundError: the registry answered 404 for the manifest (unknown tag, digest or repository).
type NotFoundError struct {
	Ref Ref
}

func (e *NotFoundError) Error() string { return e.Ref.String() + ": not found" }

// UnauthorizedReason says how authorization failed.
type UnauthorizedReason int

const (
	// InsufficientScope: a token registry (Docker Hub style) issued a token without pull access,
	// because the repository is private or does not exist.
	InsufficientScope UnauthorizedReason = iota
	// NoBasicCredentials: a basic-auth registry asked for credentials and none were given.
	NoBasicCredentials
	// BadBasicCredentials: a basic-auth registry kept answering 401 to the given credentials.
	BadBasicCredentials
	// TokenRejected: the token endpoint of a token registry refused the given credentials.
	TokenRejected
)

// UnauthorizedError: the registry refused access.
type UnauthorizedError struct {
	Ref    Ref
	Reason UnauthorizedReason
	// URL of the refused manifest request (BadBasicCredentials) or token request (TokenRejected).
	URL string
}

func (e *UnauthorizedError) Error() string {
	switch e.Reason {
	case InsufficientScope:
		return "insufficient_scope: authorization failed"
	case NoBasicCredentials:
		return "authorization failed: no basic auth credentials"
	case TokenRejected:
		return "unexpected status from GET request to " + e.URL + ": 401 Unauthorized"
	default:
		return "unexpected status from HEAD request to " + e.URL + ": 401 Unauthorized"
	}
}

// UnknownHostError: the registry host does not resolve.
type UnknownHostError struct {
	Ref  Ref
	Host string // the host looked up, without port
	URL  string // the request that could not be made
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("lookup %s on %s: no such host", e.Host, ResolverAddr)
}

// ConnectionRefusedError: the registry host resolves but nothing listens (SetDown).
type ConnectionRefusedError struct {
	Ref  Ref
	Addr string // ip:port dialled
	URL  string
}

func (e *ConnectionRefusedError) Error() string {
	return "dial tcp " + e.Addr + ": connect: connection refused"
}

// ResolverAddr is the DNS server every simulated node uses (it appears in "no such host" errors).
const ResolverAddr = "10.0.0.2:53"
