package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

// The webhook commands. A secret of one's own is read from a file or
// stdin (--secret-file), never from the command line, so that neither ps
// nor the shell's history shows it; without one the server generates it
// and it is printed once.

// eventTypes reads --events: a comma-separated list, "all" or "" for
// every type.
func eventTypes(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return []string{}
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (c *cmd) webhookSecret(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	var r io.Reader = c.stdin
	name := "stdin"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("read --secret-file: %w", err)
		}
		defer f.Close()
		r, name = f, file
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the secret from %s: %w", name, err)
	}
	if s := strings.TrimSpace(line); s != "" {
		return s, nil
	}
	return "", c.usage("no secret on the first line of %s", name)
}

func typesText(types []string) string {
	if len(types) == 0 {
		return "all"
	}
	return strings.Join(types, ",")
}

func (c *cmd) printWebhook(w *client.Webhook, secret string) error {
	pairs := [][2]string{
		{"ID", w.ID},
		{"URL", w.URL},
		{"Description", orDash(w.Description)},
		{"Events", typesText(w.EventTypes)},
		{"Enabled", yesno(w.Enabled)},
		{"Created", c.when(w.CreatedAt)},
		{"Updated", c.when(w.UpdatedAt)},
	}
	if secret != "" {
		pairs = append(pairs, [2]string{"Secret", secret + "   (shown only this once: receivers verify Livestreams-Signature with it)"})
	}
	return fields(c.stdout, pairs)
}

func webhookCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook create", "URL", `
Create a webhook endpoint: the org's events are POSTed to URL, signed with
the endpoint's secret (Livestreams-Signature: t=…,v1=HMAC-SHA256). The
secret is generated unless --secret-file gives one, and printed once.`)
	events := c.fs.String("events", "", "comma-separated event types to send, e.g. asset.ready,session.started (default: all)")
	desc := c.fs.String("description", "", "what the endpoint is for")
	secretFile := c.fs.String("secret-file", "", "read the signing secret from the first line of this file (- for stdin)")
	disabled := c.fs.Bool("disabled", false, "create it switched off")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	secret, err := c.webhookSecret(*secretFile)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	enabled := !*disabled
	w, err := cl.Webhooks().Create(c.keep(ctx), client.WebhookCreate{URL: c.pos[0], Description: *desc,
		EventTypes: eventTypes(*events), Secret: secret, Enabled: &enabled})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printWebhook(&w.Webhook, w.Secret)
}

func webhookList(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook list", "", "List the org's webhook endpoints.")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Webhook, error) { return cl.Webhooks().List(ctx) }
	return listTable(ctx, c, list, "No webhooks.", []string{"ID", "URL", "EVENTS", "ENABLED", "CREATED"}, func(w client.Webhook) []string {
		return []string{w.ID, w.URL, typesText(w.EventTypes), yesno(w.Enabled), c.ago(w.CreatedAt)}
	})
}

func webhookShow(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook show", "ID", "Show one webhook endpoint.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	w, err := cl.Webhooks().Get(c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printWebhook(&w, "")
}

func webhookUpdate(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook update", "ID", "Change a webhook endpoint: only what is given changes.")
	u := c.fs.String("url", "", "new URL")
	events := c.fs.String("events", "", `event types to send, comma-separated ("all" for every type)`)
	desc := c.fs.String("description", "", "new description")
	enable := c.fs.Bool("enable", false, "switch it on")
	disable := c.fs.Bool("disable", false, "switch it off: nothing is sent, due deliveries fail")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	var body client.WebhookUpdate
	if *u != "" {
		body.URL = u
	}
	if *desc != "" {
		body.Description = desc
	}
	if *events != "" {
		t := eventTypes(*events)
		body.EventTypes = &t
	}
	switch {
	case *enable && *disable:
		return c.usage("--enable and --disable are mutually exclusive")
	case *enable || *disable:
		on := *enable
		body.Enabled = &on
	}
	if body == (client.WebhookUpdate{}) {
		return c.usage("nothing to change: give --url, --events, --description, --enable or --disable")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	w, err := cl.Webhooks().Update(c.keep(ctx), c.pos[0], body)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printWebhook(&w, "")
}

func webhookDelete(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook delete", "ID", "Delete a webhook endpoint; its pending deliveries fail.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Webhooks().Delete(ctx, c.pos[0]) }, "Deleted webhook "+c.pos[0])
}

func webhookRotate(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook rotate-secret", "ID", `
Replace a webhook endpoint's signing secret (generated unless --secret-file
gives one) and print it once. Deliveries are signed with it from now on.`)
	secretFile := c.fs.String("secret-file", "", "read the new secret from the first line of this file (- for stdin)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	secret, err := c.webhookSecret(*secretFile)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	w, err := cl.Webhooks().RotateSecret(c.keep(ctx), c.pos[0], client.WebhookRotate{Secret: secret})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printWebhook(&w.Webhook, w.Secret)
}

func webhookTest(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook test", "ID", "Send a webhook.ping event to the endpoint; see it with 'webhook deliveries'.")
	return queueDelivery(ctx, c, args, func(ctx context.Context, cl *client.Client, id string) (client.WebhookDelivery, error) {
		return cl.Webhooks().Test(ctx, id)
	})
}

// queueDelivery runs a command whose one argument makes a new delivery
// (a test event, a redelivery) and prints it.
func queueDelivery(ctx context.Context, c *cmd, args []string,
	queue func(context.Context, *client.Client, string) (client.WebhookDelivery, error)) error {
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	d, err := queue(c.keep(ctx), cl, c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "Queued delivery %s of event %s\n", d.ID, d.EventID)
	return nil
}

func lastAttempt(d client.WebhookDelivery) string {
	if len(d.Attempts) == 0 {
		return "-"
	}
	a := d.Attempts[len(d.Attempts)-1]
	if a.ResponseCode != 0 {
		return strconv.Itoa(a.ResponseCode)
	}
	return orDash(a.Error)
}

func webhookDeliveries(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook deliveries", "ID", `
List a webhook endpoint's deliveries, newest first; with a delivery id
(whd_…) show that one with every attempt and the body sent.`)
	limit := c.fs.Int("limit", 50, "how many deliveries to list (at most 500)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	if strings.HasPrefix(c.pos[0], "whd_") {
		return c.showDelivery(ctx)
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.WebhookDelivery, error) {
		return cl.Webhooks().Deliveries(ctx, c.pos[0], *limit)
	}
	return listTable(ctx, c, list, "No deliveries.", []string{"ID", "EVENT", "TYPE", "STATUS", "ATTEMPTS", "LAST", "CREATED"},
		func(d client.WebhookDelivery) []string {
			return []string{d.ID, d.EventID, d.EventType, d.Status, strconv.Itoa(len(d.Attempts)), lastAttempt(d), c.ago(d.CreatedAt)}
		})
}

func (c *cmd) showDelivery(ctx context.Context) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	d, err := cl.Webhooks().Delivery(c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	next := "-"
	if d.NextAttemptAt != nil {
		next = c.when(*d.NextAttemptAt)
	}
	if err := fields(c.stdout, [][2]string{
		{"ID", d.ID}, {"Webhook", d.WebhookID}, {"Event", d.EventID + " (" + d.EventType + ")"},
		{"Status", d.Status}, {"Redelivery of", orDash(d.RedeliveryOf)}, {"Next attempt", next},
		{"Created", c.when(d.CreatedAt)},
	}); err != nil {
		return err
	}
	if len(d.Attempts) > 0 {
		fmt.Fprintln(c.stdout)
		rows := make([][]string, 0, len(d.Attempts))
		for _, a := range d.Attempts {
			rows = append(rows, []string{strconv.Itoa(a.N), c.ago(a.At), yesno(a.OK), strconv.Itoa(a.ResponseCode),
				strconv.FormatInt(a.LatencyMS, 10) + "ms", orDash(a.Error)})
		}
		if err := table(c.stdout, []string{"N", "AT", "OK", "CODE", "LATENCY", "ERROR"}, rows); err != nil {
			return err
		}
	}
	if d.Body != nil {
		fmt.Fprintf(c.stdout, "\nBody:\n%s\n", *d.Body)
	}
	return nil
}

func webhookRedeliver(ctx context.Context, e *env, args []string) error {
	c := e.command("webhook redeliver", "DELIVERY", "Send a delivery's event again, with the same event id, as a new delivery.")
	return queueDelivery(ctx, c, args, func(ctx context.Context, cl *client.Client, id string) (client.WebhookDelivery, error) {
		return cl.Webhooks().Redeliver(ctx, id)
	})
}
