package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

const defaultAddr = "http://127.0.0.1:8080"

// errHelp reports that -h was given and the help was printed: exit 0.
var errHelp = errors.New("help requested")

// usageError is a mistake on the command line: exit 2 with a pointer to -h.
type usageError struct {
	cmd, msg string
}

func (e *usageError) Error() string { return e.cmd + ": " + e.msg }

// globals are the flags every command accepts.
type globals struct {
	addr, token, org  string
	json, consistent  bool
	addrSet, tokenSet bool
}

// cmd is one invocation of a leaf command: its flags, its positional
// arguments once parsed, and the global options.
type cmd struct {
	*env
	name string // "stream create"
	args string // positional synopsis, "NAME"
	help string
	fs   *flag.FlagSet
	g    globals
	pos  []string
	// globals names the global flags registered on fs.
	globals map[string]bool
	// answer is the last answer of a call made under keep, for --json.
	answer []byte
}

// command starts a leaf command. The caller registers its own flags on
// c.fs and then calls parse.
func (e *env) command(name, args, help string) *cmd {
	c := &cmd{env: e, name: name, args: args, help: help}
	c.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	c.fs.SetOutput(io.Discard)
	return c
}

// registerGlobals adds the global flags the command has not defined itself:
// bootstrap's --token is the setup token, user create's --org an org to
// join, and they take precedence.
func (c *cmd) registerGlobals() {
	c.globals = map[string]bool{}
	str := func(p *string, name, usage string) {
		if c.fs.Lookup(name) == nil {
			c.fs.StringVar(p, name, "", usage)
			c.globals[name] = true
		}
	}
	boolean := func(p *bool, name, usage string) {
		if c.fs.Lookup(name) == nil {
			c.fs.BoolVar(p, name, false, usage)
			c.globals[name] = true
		}
	}
	// No defaults from the environment here: the help text prints defaults,
	// and LIVESTREAMS_TOKEN must never appear in it.
	str(&c.g.addr, "addr", "control-plane HTTP address, comma-separated for failover (env LIVESTREAMS_ADDR, default "+defaultAddr+")")
	str(&c.g.token, "token", "API key or session token (env LIVESTREAMS_TOKEN)")
	str(&c.g.org, "org", "org ID to act in, sent as X-Livestreams-Org (env LIVESTREAMS_ORG)")
	boolean(&c.g.json, "json", "print the API's JSON answer")
	boolean(&c.g.consistent, "consistent", "ask for a leader-confirmed read")
}

// parse parses flags and positional arguments in any order (`stream show ID
// --json` as well as `stream show --json ID`); "--" ends the flags. It
// checks that there are between minArgs and maxArgs positionals (maxArgs <
// 0: any).
func (c *cmd) parse(args []string, minArgs, maxArgs int) error {
	c.registerGlobals()
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(c.stdout)
				return errHelp
			}
			return c.usage("%v", err)
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	c.pos = pos
	c.fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "addr" && c.globals["addr"]:
			c.g.addrSet = true
		case f.Name == "token" && c.globals["token"]:
			c.g.tokenSet = true
		}
	})
	switch {
	case len(pos) < minArgs:
		return c.usage("missing argument %s", c.args)
	case maxArgs >= 0 && len(pos) > maxArgs:
		if maxArgs == 0 {
			return c.usage("unexpected argument %q", pos[0])
		}
		return c.usage("too many arguments: want %s", c.args)
	}
	return nil
}

func (c *cmd) usage(format string, a ...any) error {
	return &usageError{cmd: c.name, msg: fmt.Sprintf(format, a...)}
}

func (c *cmd) printHelp(w io.Writer) {
	synopsis := "livestreams " + c.name + " [flags]"
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n", synopsis)
	for _, line := range strings.Split(strings.TrimSpace(c.help), "\n") {
		if line == "" {
			fmt.Fprintln(w)
			continue
		}
		fmt.Fprintf(w, "  %s\n", line)
	}
	var own, global []*flag.Flag
	c.fs.VisitAll(func(f *flag.Flag) {
		if c.globals[f.Name] {
			global = append(global, f)
		} else {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, own)
	}
	fmt.Fprintln(w, "\nGlobal flags:")
	printFlags(w, global)
}

func printFlags(w io.Writer, flags []*flag.Flag) {
	for _, f := range flags {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	}
}

// parseAddrs splits a comma-separated address list; a bare host:port means
// http://host:port.
func parseAddrs(s string) ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !strings.Contains(a, "://") {
			a = "http://" + a
		}
		u, err := url.Parse(a)
		if err != nil {
			return nil, fmt.Errorf("invalid address %q", a)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("invalid address %q: want http://host:port or https://host:port", a)
		}
		addrs = append(addrs, strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"))
	}
	if len(addrs) == 0 {
		return nil, errors.New("no address given")
	}
	return addrs, nil
}

// password returns the password from --password or, with --password-stdin,
// the first line of stdin. required says whether neither is acceptable.
func (c *cmd) password(flagValue string, fromStdin, required bool) (string, error) {
	switch {
	case flagValue != "" && fromStdin:
		return "", c.usage("--password and --password-stdin are mutually exclusive")
	case fromStdin:
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		p := strings.TrimRight(line, "\r\n")
		if p == "" {
			return "", c.usage("--password-stdin: stdin is empty")
		}
		return p, nil
	case flagValue == "" && required:
		return "", c.usage("--password or --password-stdin is required")
	}
	return flagValue, nil
}

// validRole reports whether r is one of the org roles.
func validRole(r string) bool {
	switch r {
	case "owner", "admin", "member", "viewer":
		return true
	}
	return false
}
