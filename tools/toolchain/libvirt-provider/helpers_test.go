package main

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func urnOf(token, name string) string {
	return "urn:pulumi:dev::proj::" + token + "::" + name
}

// props builds a property map from plain Go values.
func props(m map[string]any) resource.PropertyMap {
	return resource.NewPropertyMapFromMap(m)
}

func mustMarshal(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal("test", m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUnmarshal(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal("test", s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkOK runs Check and fails the test on failures.
func checkOK(t *testing.T, p *libvirtProvider, token string, news resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: urnOf(token, "r"), Type: token, News: mustMarshal(t, news),
	})
	if err != nil {
		t.Fatalf("check %s: %v", token, err)
	}
	for _, f := range resp.GetFailures() {
		t.Errorf("check %s: %s: %s", token, f.GetProperty(), f.GetReason())
	}
	if t.Failed() {
		t.FailNow()
	}
	return mustUnmarshal(t, resp.GetInputs())
}

// checkFailures runs Check and returns its failures as "property: reason" lines.
func checkFailures(t *testing.T, p *libvirtProvider, token string, news resource.PropertyMap) []string {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{
		Urn: urnOf(token, "r"), Type: token, News: mustMarshal(t, news),
	})
	if err != nil {
		t.Fatalf("check %s: %v", token, err)
	}
	var out []string
	for _, f := range resp.GetFailures() {
		out = append(out, f.GetProperty()+": "+f.GetReason())
	}
	return out
}

func containsLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// xmlNode is a generic XML tree, for asserting on generated documents.
type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []xmlNode  `xml:",any"`
}

func parseXMLTree(t *testing.T, doc string) xmlNode {
	t.Helper()
	var n xmlNode
	if err := xml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatalf("generated XML does not parse: %v\n%s", err, doc)
	}
	return n
}

func (n xmlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// all returns the nodes at a slash-separated path of element names below n.
func (n xmlNode) all(path string) []xmlNode {
	cur := []xmlNode{n}
	for _, part := range strings.Split(path, "/") {
		var next []xmlNode
		for _, c := range cur {
			for _, ch := range c.Children {
				if ch.XMLName.Local == part {
					next = append(next, ch)
				}
			}
		}
		cur = next
	}
	return cur
}

// one returns the single node at path, failing the test otherwise.
func (n xmlNode) one(t *testing.T, path string) xmlNode {
	t.Helper()
	got := n.all(path)
	if len(got) != 1 {
		t.Fatalf("want one <%s>, got %d", path, len(got))
	}
	return got[0]
}

func (n xmlNode) text() string { return strings.TrimSpace(n.Text) }
