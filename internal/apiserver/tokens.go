package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"sync"

	"gopkg.in/go-jose/go-jose.v2/jwt"
	"k8s.io/kubernetes/pkg/serviceaccount"
)

// lazyTokenGenerator signs service account tokens (TokenRequest) as kube-apiserver does, with an
// RSA key (RS256) made on the first request: making one takes longer than starting a cluster.
type lazyTokenGenerator struct {
	once sync.Once
	gen  serviceaccount.TokenGenerator
	err  error
}

func (l *lazyTokenGenerator) GenerateToken(ctx context.Context, claims *jwt.Claims, privateClaims interface{}) (string, error) {
	l.once.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			l.err = err
			return
		}
		l.gen, l.err = serviceaccount.JWTTokenGenerator(serviceAccountIssuer, key)
	})
	if l.err != nil {
		return "", l.err
	}
	return l.gen.GenerateToken(ctx, claims, privateClaims)
}
