package api

import (
	"strings"
	"testing"
)

// TestWebhookEndpoints: create (secret once, generated or given), read
// and list without it, URL and event type checks, the SSRF refusal of
// private literals unless allowed, rotation, test ping, redelivery of the
// same event id, tenant isolation, delete.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	adm := e.admin

	created := adm.must(201, "POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example.com/in?k=1",
		"event_types": []string{"asset.ready", "session.started"}, "description": "backend"}).json(t)
	id, secret := str(created, "id"), str(created, "secret")
	if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(secret, "whsec_") || len(secret) < 30 || created["enabled"] != true {
		t.Fatalf("created = %v", created)
	}
	got := adm.must(200, "GET", "/v1/webhooks/"+id, nil)
	list := adm.must(200, "GET", "/v1/webhooks", nil)
	for _, a := range []answer{got, list} {
		if strings.Contains(string(a.body), secret) || strings.Contains(string(a.body), "secret") {
			t.Fatalf("a read shows the secret: %s", a.body)
		}
	}
	if items := list.json(t)["items"].([]any); len(items) != 1 {
		t.Fatalf("list = %v", items)
	}
	own := adm.must(201, "POST", "/v1/webhooks", map[string]any{"url": "http://93.184.216.34/x", "secret": "my-own-secret-0123456789"}).json(t)
	if own["secret"] != "my-own-secret-0123456789" || len(own["event_types"].([]any)) != 0 {
		t.Fatalf("created with a secret = %v", own)
	}

	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"url": "http://10.0.0.5/hook"}, "not a public address"},
		{map[string]any{"url": "http://169.254.169.254/latest/meta-data/"}, "not a public address"},
		{map[string]any{"url": "http://127.0.0.1:9000/"}, "--webhook-allow-private"},
		{map[string]any{"url": "http://[::1]:9000/"}, "not a public address"},
		{map[string]any{"url": "http://localhost:9000/"}, "loopback"},
		{map[string]any{"url": "ftp://example.com/"}, "http or https"},
		{map[string]any{"url": "https://u:p@example.com/"}, "credentials"},
		{map[string]any{"url": "https://example.com/", "event_types": []string{"asset.exploded"}}, "unknown event type"},
		{map[string]any{"url": "https://example.com/", "event_types": []string{"webhook.delivered"}}, "unknown event type"},
		{map[string]any{"url": "https://example.com/", "secret": "short"}, "secret must be"},
	} {
		a := adm.do("POST", "/v1/webhooks", c.body)
		if a.status != 400 || !strings.Contains(string(a.body), c.want) {
			t.Errorf("POST %v = %d %s, want 400 with %q", c.body, a.status, a.body, c.want)
		}
	}
	adm.must(400, "PATCH", "/v1/webhooks/"+id, map[string]any{"url": "http://192.168.0.1/"})

	upd := adm.must(200, "PATCH", "/v1/webhooks/"+id, map[string]any{"enabled": false, "event_types": []string{}}).json(t)
	if upd["enabled"] != false || len(upd["event_types"].([]any)) != 0 || upd["url"] != "https://hooks.example.com/in?k=1" {
		t.Fatalf("updated = %v", upd)
	}
	rot := adm.must(200, "POST", "/v1/webhooks/"+id+"/rotate-secret", nil).json(t)
	if s := str(rot, "secret"); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Fatalf("rotated = %v", rot)
	}

	ping := adm.must(202, "POST", "/v1/webhooks/"+id+"/test", nil).json(t)
	if ping["event_type"] != "webhook.ping" || ping["status"] != "pending" || ping["webhook_id"] != id {
		t.Fatalf("ping = %v", ping)
	}
	one := adm.must(200, "GET", "/v1/webhooks/deliveries/"+str(ping, "id"), nil).json(t)
	if body := str(one, "body"); !strings.Contains(body, `"type":"webhook.ping"`) || !strings.Contains(body, `"id":"`+str(ping, "event_id")+`"`) {
		t.Fatalf("delivery body %s", body)
	}
	again := adm.must(202, "POST", "/v1/webhooks/deliveries/"+str(ping, "id")+"/redeliver", nil).json(t)
	if again["event_id"] != ping["event_id"] || again["id"] == ping["id"] || again["redelivery_of"] != ping["id"] {
		t.Fatalf("redelivery = %v of %v", again, ping)
	}
	ds := adm.must(200, "GET", "/v1/webhooks/"+id+"/deliveries?limit=10", nil).json(t)["items"].([]any)
	if len(ds) != 2 || ds[0].(map[string]any)["id"] != again["id"] || ds[0].(map[string]any)["body"] != nil {
		t.Fatalf("deliveries = %v", ds)
	}

	// Another org sees none of it.
	B := str(adm.must(201, "POST", "/v1/orgs", map[string]any{"name": "Org B"}).json(t), "id")
	bKey, _ := e.key(adm.inOrg(B), "b-owner", "owner", false)
	for _, r := range [][2]string{{"GET", "/v1/webhooks/" + id}, {"PATCH", "/v1/webhooks/" + id}, {"DELETE", "/v1/webhooks/" + id},
		{"POST", "/v1/webhooks/" + id + "/rotate-secret"}, {"POST", "/v1/webhooks/" + id + "/test"}, {"GET", "/v1/webhooks/" + id + "/deliveries"},
		{"GET", "/v1/webhooks/deliveries/" + str(ping, "id")}, {"POST", "/v1/webhooks/deliveries/" + str(ping, "id") + "/redeliver"}} {
		var body any
		if r[0] == "PATCH" {
			body = map[string]any{"enabled": true}
		}
		if a := bKey.do(r[0], r[1], body); a.status != 404 {
			t.Errorf("org B: %s %s = %d %s, want 404", r[0], r[1], a.status, a.body)
		}
	}
	if items := bKey.must(200, "GET", "/v1/webhooks", nil).json(t)["items"].([]any); len(items) != 0 {
		t.Errorf("org B lists %v", items)
	}

	adm.must(204, "DELETE", "/v1/webhooks/"+id, nil)
	adm.must(404, "GET", "/v1/webhooks/"+id, nil)
	if d := adm.must(200, "GET", "/v1/webhooks/deliveries/"+str(again, "id"), nil).json(t); d["status"] != "failed" {
		t.Errorf("a pending delivery of a deleted endpoint is %v", d["status"])
	}
}

// TestWebhookAllowPrivate: the operator flag lets loopback and private
// receivers in.
func TestWebhookAllowPrivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.WebhookAllowPrivate = true }})
	for _, u := range []string{"http://127.0.0.1:9000/hook", "http://localhost:9000/", "http://10.1.2.3/", "http://[::1]:1/"} {
		e.admin.must(201, "POST", "/v1/webhooks", map[string]any{"url": u})
	}
	e.admin.must(400, "POST", "/v1/webhooks", map[string]any{"url": "gopher://127.0.0.1/"})
}
