package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// InProcessTransport returns a transport that delivers requests for cluster id straight to the
// API server's handler, without sockets or TLS. Components of a cluster (scheduler, controllers,
// kubelets) talk to its API through it with client-go, exactly as a remote client would.
// An empty id means the default cluster.
func (s *Server) InProcessTransport(id string) http.RoundTripper {
	return &handlerTransport{handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id != "" {
			r.URL.Path = "/clusters/" + id + r.URL.Path
			r.URL.RawPath = ""
		}
		s.ServeHTTP(w, r)
	})}
}

// handlerTransport is an http.RoundTripper that serves each request with an http.Handler in a new
// goroutine and streams the response body through a pipe, so that watches work as over a socket.
type handlerTransport struct{ handler http.Handler }

func (t *handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	in := req.Clone(ctx)
	if in.URL.Host == "" {
		in.URL.Host = req.Host
	}
	in.RequestURI = in.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, body: pw, ready: make(chan struct{}), ctx: ctx}
	go func() {
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				w.WriteHeader(http.StatusInternalServerError)
				_ = pw.CloseWithError(fmt.Errorf("handler panic: %v", p))
			}
			w.WriteHeader(http.StatusOK) // no-op if already written
			_ = pw.Close()
		}()
		t.handler.ServeHTTP(w, in)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		cancel()
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)),
		StatusCode:    w.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          &pipeBody{PipeReader: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeWriter is the handler's side of an in-process response.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	body   *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
	code   int
	ctx    context.Context
}

// CloseNotify reports the client going away. The API server's response wrappers expose Flush
// only on writers that also implement this (as net/http's do).
func (w *pipeWriter) CloseNotify() <-chan bool {
	ch := make(chan bool, 1)
	go func() {
		<-w.ctx.Done()
		ch <- true
	}()
	return ch
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush: every Write already reaches the reader.
func (w *pipeWriter) Flush() {}

// pipeBody cancels the request when the client closes the body (the end of a watch).
type pipeBody struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (b *pipeBody) Close() error {
	b.cancel()
	return b.PipeReader.Close()
}

// kubeletTransport carries the API server's requests to kubelets (pod logs, node proxy) to the
// simulated kubelets of the request's cluster. The URL host is the node name.
type kubeletTransport struct{ server *Server }

func (t *kubeletTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := clusterFrom(req.Context())
	if c == nil || c.Kubelets == nil {
		return nil, fmt.Errorf("dial tcp %s: connect: connection refused", req.URL.Host)
	}
	return (&handlerTransport{handler: c.Kubelets}).RoundTrip(req)
}
