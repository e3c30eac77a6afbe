// Package cli is the admin command line of Livestreams: `livestreams stream
// list`, `livestreams cluster status` and the other noun-verb commands.
//
// It is a client of the REST API in docs/api.md and of nothing else: it
// calls it through package client and imports no other control-plane
// package, so it sees the cluster exactly as the dashboard does. It keeps no state between runs and reads its configuration
// (flags, LIVESTREAMS_* environment) only when Run is called, so tests and
// end-to-end suites can call Run as often as they like. It does not start
// servers; main.go dispatches `control`, `edge` and `dev` elsewhere.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// requestTimeout bounds every API call except the snapshot transfers, which
// take as long as the state is large.
const requestTimeout = 30 * time.Second

// Run executes one admin command (args without the program name, e.g.
// ["stream","list","--json"]) and returns the exit code: 0 on success, 1
// when the API or the network failed, 2 on a usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{
		stdout:  stdout,
		stderr:  stderr,
		stdin:   os.Stdin,
		getenv:  os.Getenv,
		now:     time.Now,
		timeout: requestTimeout,
	}
	return e.run(ctx, args)
}

// Commands lists the top-level command names Run handles (main.go uses it to
// dispatch).
func Commands() []string {
	var names []string
	for _, n := range nouns() {
		names = append(names, n.name)
		names = append(names, n.aliases...)
	}
	sort.Strings(names)
	return names
}

// env is what one Run works with. Tests build it directly to supply stdin,
// the environment and a fixed clock.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
	now            func() time.Time
	timeout        time.Duration
	// httpc is set by run for the duration of one command, so that its
	// idle connections are closed when the command returns.
	httpc *http.Client
	// tokenSent says the last client built sent a token: a 401 then
	// needs no hint to set one.
	tokenSent bool
}

// action runs one command with the arguments after its name.
type action func(ctx context.Context, e *env, args []string) error

// noun is a top-level command: either a group of verbs (`stream list`) or a
// single action (`bootstrap`).
type noun struct {
	name, synopsis string
	// aliases are other names of the noun (the plural "jobs" for "job").
	aliases []string
	verbs   []verb
	run     action
}

type verb struct {
	name, synopsis string
	run            action
}

func nouns() []noun {
	return []noun{
		{name: "bootstrap", synopsis: "create the first admin and an API key with a setup token", run: bootstrap},
		{name: "login", synopsis: "print a session token (JWT) for scripts", run: login},
		{name: "cluster", synopsis: "inspect and change the control-plane cluster", verbs: []verb{
			{"status", "show the Raft members, the leader and the log position", clusterStatus},
			{"join", "add a control-plane node as a voter", clusterJoin},
			{"remove", "remove a control-plane node", clusterRemove},
			{"join-token", "create (default), list or revoke single-use edge join tokens", clusterJoinToken},
			{"ca", "show the cluster CA; rotate it, then finish the rotation", clusterCA},
		}},
		{name: "org", synopsis: "manage organisations", verbs: []verb{
			{"create", "create an org owned by you", orgCreate},
			{"list", "list your orgs (all of them for cluster admins)", orgList},
			{"delete", "delete an org and everything in it", orgDelete},
			{"members", "list the members of an org", orgMembers},
			{"invite", "invite an email address to an org", orgInvite},
			{"invitations", "list the invitations of an org", orgInvitations},
		}},
		{name: "invite", synopsis: "answer invitations to orgs addressed to you", verbs: []verb{
			{"list", "list your pending invitations", inviteList},
			{"accept", "join the org of an invitation", inviteAccept},
			{"decline", "decline an invitation", inviteDecline},
		}},
		{name: "user", synopsis: "manage users (cluster admin)", verbs: []verb{
			{"create", "create a user, optionally as a member of an org", userCreate},
		}},
		{name: "apikey", synopsis: "manage API keys", verbs: []verb{
			{"create", "create an API key (shown once)", apikeyCreate},
			{"list", "list the API keys of the org", apikeyList},
			{"revoke", "revoke an API key", apikeyRevoke},
		}},
		{name: "stream", synopsis: "manage streams", verbs: []verb{
			{"create", "create a stream", streamCreate},
			{"list", "list the streams of the org", streamList},
			{"show", "show one stream", streamShow},
			{"update", "change a stream's name or SRT passphrase", streamUpdate},
			{"key", "print the stream key", streamKey},
			{"reset-key", "replace the stream key; the old one stops working", streamResetKey},
			{"delete", "delete a stream", streamDelete},
			{"sessions", "list the publishing sessions of a stream", streamSessions},
			{"ingest", "print where to publish: the nearest edge's URLs", streamIngest},
		}},
		{name: "asset", aliases: []string{"assets"}, synopsis: "list, show and delete on-demand assets (recordings, uploads, clips)", verbs: []verb{
			{"list", "list the assets of the org, newest first", assetList},
			{"show", "show one asset with its job and playback URLs", assetShow},
			{"delete", "delete an asset and its files", assetDelete},
			{"captions", "caption an asset's speech in a language (a captions job)", assetCaptions},
		}},
		{name: "restream", synopsis: "relay a live stream to YouTube, Twitch, Facebook, Kick or any RTMP(S) server", verbs: []verb{
			{"list", "list a stream's restream targets and their status", restreamList},
			{"show", "show one restream target", restreamShow},
			{"add", "add a restream target (the key from --key-file or stdin)", restreamAdd},
			{"update", "change a restream target", restreamUpdate},
			{"enable", "switch a restream target on", restreamToggle(true)},
			{"disable", "switch a restream target off", restreamToggle(false)},
			{"remove", "delete a restream target", restreamRemove},
		}},
		{name: "account", aliases: []string{"accounts"}, synopsis: "link YouTube and Twitch accounts and make restream targets from them", verbs: []verb{
			{"link", "print the consent link that links a youtube or twitch account to the org", accountLink},
			{"list", "list the org's linked accounts", accountList},
			{"unlink", "revoke a linked account's tokens and forget it", accountUnlink},
			{"target", "add a restream target to a stream from a linked account", accountTarget},
		}},
		{name: "job", aliases: []string{"jobs"}, synopsis: "list, show and cancel media jobs (transcodes, clips)", verbs: []verb{
			{"list", "list the media jobs of the org, newest first", jobList},
			{"show", "show one job with its attempts", jobShow},
			{"cancel", "cancel a queued or running job", jobCancel},
			{"log", "print the last lines of a job's ffmpeg output", jobLog},
		}},
		{name: "nodes", synopsis: "list the edge fleet with state, region, load and streams", run: nodesList},
		{name: "node", synopsis: "drain, undrain or remove an edge", verbs: []verb{
			{"drain", "stop new publishes and viewers on an edge", nodeDrain},
			{"undrain", "lift an edge's drain order", nodeUndrain},
			{"remove", "revoke an edge's certificate and cut it off", nodeRemove},
		}},
		{name: "route", synopsis: "explain where a viewer is sent for a stream", run: routeExplain},
		{name: "events", synopsis: "print the org's events, or follow them live (--follow)", run: eventsCmd},
		{name: "analytics", synopsis: "show the viewing figures of a stream or asset", run: analyticsShow},
		{name: "signing-key", synopsis: "manage the keys that sign playback tokens", verbs: []verb{
			{"create", "create a signing key", signingKeyCreate},
			{"list", "list the signing keys of the org", signingKeyList},
			{"revoke", "revoke a signing key", signingKeyRevoke},
			{"token", "mint a playback token", signingKeyToken},
		}},
		{name: "webhook", aliases: []string{"webhooks"}, synopsis: "manage the org's signed webhook endpoints and their deliveries", verbs: []verb{
			{"create", "create an endpoint (its secret is printed once)", webhookCreate},
			{"list", "list the org's endpoints", webhookList},
			{"show", "show one endpoint", webhookShow},
			{"update", "change an endpoint's URL, events, description or toggle", webhookUpdate},
			{"delete", "delete an endpoint", webhookDelete},
			{"rotate-secret", "replace an endpoint's signing secret", webhookRotate},
			{"test", "send a webhook.ping to an endpoint", webhookTest},
			{"deliveries", "list an endpoint's deliveries, or show one (whd_…)", webhookDeliveries},
			{"redeliver", "send a delivery's event again, same event id", webhookRedeliver},
		}},
		{name: "snapshot", synopsis: "save and restore the cluster state", verbs: []verb{
			{"save", "write the cluster state to a file", snapshotSave},
			{"restore", "replace the cluster state with a saved file", snapshotRestore},
		}},
	}
}

func (e *env) run(ctx context.Context, args []string) int {
	e.httpc = client.NewHTTPClient()
	defer e.httpc.CloseIdleConnections()
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "livestreams: no command given")
		e.printCommands(e.stderr)
		return 2
	}
	var n *noun
	for _, c := range nouns() {
		if c.name == args[0] || slices.Contains(c.aliases, args[0]) {
			c.name = args[0] // usage speaks of the name typed
			n = &c
			break
		}
	}
	if n == nil {
		fmt.Fprintf(e.stderr, "livestreams: unknown command %q\n", args[0])
		e.printCommands(e.stderr)
		return 2
	}
	if n.run != nil {
		return e.exit(n.run(ctx, e, args[1:]))
	}
	if len(args) < 2 {
		fmt.Fprintf(e.stderr, "livestreams: %s: no subcommand given\n", n.name)
		e.printVerbs(e.stderr, n)
		return 2
	}
	if isHelp(args[1]) || args[1] == "help" {
		e.printVerbs(e.stdout, n)
		return 0
	}
	for _, v := range n.verbs {
		if v.name == args[1] {
			return e.exit(v.run(ctx, e, args[2:]))
		}
	}
	fmt.Fprintf(e.stderr, "livestreams: %s: unknown subcommand %q\n", n.name, args[1])
	e.printVerbs(e.stderr, n)
	return 2
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h"
}

// exit prints err, if any, as one line on stderr and maps it to the exit code.
func (e *env) exit(err error) int {
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(e.stderr, "livestreams: %s: %s\n", usage.cmd, usage.msg)
		fmt.Fprintf(e.stderr, "Run 'livestreams %s -h' for usage.\n", usage.cmd)
		return 2
	default:
		fmt.Fprintf(e.stderr, "livestreams: %s\n", e.explain(err))
		return 1
	}
}

func (e *env) printCommands(w io.Writer) {
	fmt.Fprintln(w, "\nAdmin commands:")
	for _, n := range nouns() {
		fmt.Fprintf(w, "  %-12s %s\n", n.name, n.synopsis)
	}
	fmt.Fprintln(w, "\nRun 'livestreams <command> -h' for details.")
}

func (e *env) printVerbs(w io.Writer, n *noun) {
	fmt.Fprintf(w, "Usage: livestreams %s <subcommand> [flags] [args]\n\n  %s.\n\nSubcommands:\n", n.name, upperFirst(n.synopsis))
	for _, v := range n.verbs {
		fmt.Fprintf(w, "  %-11s %s\n", v.name, v.synopsis)
	}
	fmt.Fprintf(w, "\nRun 'livestreams %s <subcommand> -h' for details.\n", n.name)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
