package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestBadInputIsRefusedAndChangesNothing sends malformed, invalid, oversized and conflicting
// requests over HTTPS, as any client could, and checks that each gets kube-apiserver's status
// (code, reason, message) and that nothing stored in the namespace changed.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	ns := "e2e-bad-input"
	client := inst.Cluster.Client()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"colour": "blue"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frozen, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "frozen"}, Data: map[string]string{"colour": "blue"}, Immutable: ptrTo(true),
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := cm.DeepCopy()
	stale.Data["colour"] = "red"
	if _, err := client.CoreV1().ConfigMaps(ns).Update(ctx, stale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// cm now has an old resourceVersion
	staleBody, _ := json.Marshal(cm)
	frozenChange := frozen.DeepCopy()
	frozenChange.Data["colour"] = "green"
	frozenBody, _ := json.Marshal(frozenChange)
	huge := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"huge"},"data":{"x":"` + strings.Repeat("x", 3<<20) + `"}}`

	pods := "/api/v1/namespaces/" + ns + "/pods"
	cms := "/api/v1/namespaces/" + ns + "/configmaps"
	cases := []struct {
		name, method, path, contentType, body string
		code                                  int
		reason                                metav1.StatusReason
		message                               string
	}{
		{"malformed JSON", "POST", pods, "application/json", `{"apiVersion":"v1","kind":"Pod",`,
			400, metav1.StatusReasonBadRequest, ""},
		{"malformed YAML", "POST", pods, "application/yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n spec: {}\n",
			400, metav1.StatusReasonBadRequest, ""},
		{"unknown field, strict", "POST", pods + "?fieldValidation=Strict", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"typo"},"spec":{"containers":[{"name":"web","image":"nginx:1.28","imagePullPolicyy":"Always"}]}}`,
			400, metav1.StatusReasonBadRequest, ""},
		{"wrong apiVersion", "POST", pods, "application/json",
			`{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"wrong"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`,
			400, metav1.StatusReasonBadRequest, ""},
		{"wrong kind", "POST", pods, "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"wrong"}}`,
			400, metav1.StatusReasonBadRequest, ""},
		{"invalid name", "POST", pods, "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"MyPod"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`,
			422, metav1.StatusReasonInvalid, ""},
		{"oversized body", "POST", cms, "application/json", huge,
			413, metav1.StatusReasonRequestEntityTooLarge, ""},
		{"stale update", "PUT", cms + "/settings", "application/json", string(staleBody),
			409, metav1.StatusReasonConflict, ""},
		{"immutable ConfigMap", "PUT", cms + "/frozen", "application/json", string(frozenBody),
			422, metav1.StatusReasonInvalid, ""},
		{"already exists", "POST", cms, "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"colour":"purple"}}`,
			409, metav1.StatusReasonAlreadyExists, ""},
		{"missing namespace", "POST", "/api/v1/namespaces/no-such-namespace/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}`,
			404, metav1.StatusReasonNotFound, ""},
		{"update of a missing object", "PUT", cms + "/missing", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"missing","resourceVersion":"1"}}`,
			404, metav1.StatusReasonNotFound, ""},
		{"malformed merge patch", "PATCH", cms + "/settings", "application/merge-patch+json", `{"data":`,
			400, metav1.StatusReasonBadRequest, ""},
		{"JSON patch of a missing path", "PATCH", cms + "/settings", "application/json-patch+json",
			`[{"op":"replace","path":"/data/missing/x","value":"y"}]`,
			422, metav1.StatusReasonInvalid, ""},
		{"delete with another UID", "DELETE", cms + "/settings", "application/json",
			`{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"00000000-0000-0000-0000-000000000000"}}`,
			409, metav1.StatusReasonConflict, ""},
	}
	for i := range cases {
		cases[i].message = expectedMessages[cases[i].name]
	}

	httpClient, err := rest.HTTPClientFor(inst.Cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	base := inst.Cluster.RESTConfig().Host
	// The controllers' own writes to the new namespace (its default ServiceAccount and
	// kube-root-ca.crt) land before the snapshot, not during the requests.
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := namespaceVersions(ns)
		_, sa := v["/serviceaccounts/"+ns+"/default"]
		_, ca := v["/configmaps/"+ns+"/kube-root-ca.crt"]
		if sa && ca {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the namespace's default ServiceAccount and kube-root-ca.crt did not appear: %v", v)
		}
		inst.Cluster.Settle()
	}
	before := namespaceVersions(ns)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, base+c.path, bytes.NewBufferString(c.body))
			req.Header.Set("Content-Type", c.contentType)
			req.Header.Set("Accept", "application/json")
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var st metav1.Status
			if err := json.Unmarshal(raw, &st); err != nil || st.Kind != "Status" {
				t.Fatalf("HTTP %d, not a Status: %s", resp.StatusCode, raw)
			}
			got := fmt.Sprintf("%d %s %s", resp.StatusCode, st.Reason, strings.ReplaceAll(st.Message, string(cm.UID), "<uid>"))
			want := fmt.Sprintf("%d %s %s", c.code, c.reason, c.message)
			if got != want || int(st.Code) != c.code {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	if after := namespaceVersions(ns); !equalVersions(before, after) {
		t.Fatalf("refused requests changed the stored state:\nbefore %v\nafter  %v", before, after)
	}
}

// namespaceVersions is the resourceVersion of every stored object of a namespace.
func namespaceVersions(ns string) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range inst.Cluster.Store.Versions() {
		if strings.Contains(k, "/"+ns+"/") || strings.HasSuffix(k, "/"+ns) {
			out[k] = v
		}
	}
	return out
}

func equalVersions(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func ptrTo[T any](v T) *T { return &v }

// expectedMessages are kube-apiserver v1.37's messages for the requests above.
var expectedMessages = map[string]string{
	"malformed JSON":             `the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: unexpected end of JSON input ({"apiVersion":"v1","kind":"Pod ...)`,
	"malformed YAML":             `the object provided is unrecognized (must be of type Pod): yaml: line 4: did not find expected key (61706956657273696f6e3a2076310a6b696e643a20506f640a6d65746164 ...)`,
	"unknown field, strict":      `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagePullPolicyy"`,
	"wrong apiVersion":           `Pod in version "v1" cannot be handled as a Pod: no kind "Pod" is registered for version "apps/v1" in scheme "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"`,
	"wrong kind":                 `ConfigMap in version "v1" cannot be handled as a Pod: converting (v1.ConfigMap) to (core.Pod): unknown conversion`,
	"invalid name":               `Pod "MyPod" is invalid: metadata.name: Invalid value: "MyPod": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
	"oversized body":             `Request entity too large: limit is 3145728`,
	"stale update":               `Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again`,
	"immutable ConfigMap":        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
	"already exists":             `configmaps "settings" already exists`,
	"missing namespace":          `namespaces "no-such-namespace" not found`,
	"update of a missing object": `configmaps "missing" not found`,
	"malformed merge patch":      `invalid JSON patch`,
	// the JSON patch's own error is in the status details; the message is the generic one
	"JSON patch of a missing path": `the server rejected our request due to an error in our request`,
	"delete with another UID":      `Operation cannot be fulfilled on ConfigMap "settings": the UID in the precondition (00000000-0000-0000-0000-000000000000) does not match the UID in record (<uid>). The object might have been deleted and then recreated`,
}
