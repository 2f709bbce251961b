#!/bin/sh
# Prints the -ldflags that make the Kubernetes libraries linked into kubesim (the embedded kubectl
# among them) report the release kubesim behaves as. Upstream sets the same variables at release.
v=v1.37.2
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  printf -- '-X %s.gitMajor=1 -X %s.gitMinor=37 -X %s.gitVersion=%s -X %s.gitTreeState=clean -X %s.gitCommit=kubesim -X %s.buildDate=2026-11-25T00:00:00Z ' "$p" "$p" "$p" "$v" "$p" "$p" "$p"
done
