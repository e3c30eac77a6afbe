// Package config gives every `livestreams` subcommand the same flag
// conventions: each flag may also be set by an environment variable named
// LIVESTREAMS_ plus the flag name in upper snake case (--data-dir →
// LIVESTREAMS_DATA_DIR), and an explicit flag wins over the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvName is the environment variable that can set flag name.
func EnvName(name string) string {
	return "LIVESTREAMS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// ClientEnv lists the LIVESTREAMS_* variables that are read by something
// other than a subcommand's flags: the admin CLI's (address, token, org)
// and the tests' log switch. An operator's shell or a unit's environment
// may hold them beside a server's own variables.
var ClientEnv = []string{"LIVESTREAMS_ADDR", "LIVESTREAMS_TOKEN", "LIVESTREAMS_ORG", "LIVESTREAMS_TEST_LOG"}

// Parse parses args into fs and then fills every flag not given on the
// command line from its environment variable. Bad environment values are
// reported naming both the variable and the flag. With a nil getenv it
// reads the process environment and also refuses any LIVESTREAMS_*
// variable that is neither a flag of fs nor in ClientEnv (see ParseEnv).
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if getenv == nil {
		return ParseEnv(fs, args, os.Environ())
	}
	return parse(fs, args, getenv)
}

// ParseEnv is Parse reading the environment from environ (KEY=VALUE
// entries, as os.Environ returns them). A LIVESTREAMS_* variable that no
// flag of fs reads and that is not in ClientEnv stops the parse with an
// error naming it, and the nearest flag's variable when one is close: a
// misspelt or retired setting must not be silently ignored.
func ParseEnv(fs *flag.FlagSet, args []string, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if err := parse(fs, args, func(k string) string { return env[k] }); err != nil {
		return err
	}
	return unknownEnv(fs, environ)
}

func parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := lookup(getenv, EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s (for --%s): %v", EnvName(f.Name), f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// unknownEnv reports every LIVESTREAMS_* name in environ that neither a
// flag of fs nor ClientEnv accounts for, in the order given.
func unknownEnv(fs *flag.FlagSet, environ []string) error {
	known := map[string]bool{}
	for _, k := range ClientEnv {
		known[k] = true
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		known[EnvName(f.Name)] = true
		names = append(names, EnvName(f.Name))
	})
	var errs []error
	seen := map[string]bool{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "LIVESTREAMS_") || known[k] || seen[k] {
			continue
		}
		seen[k] = true
		msg := fmt.Sprintf("%s: unknown setting for `livestreams %s`", k, fs.Name())
		if near := nearest(k, names); near != "" {
			msg += fmt.Sprintf("; did you mean %s (--%s)?", near, flagName(near))
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// flagName turns a LIVESTREAMS_* variable back into its flag's name.
func flagName(env string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(env, "LIVESTREAMS_"), "_", "-"))
}

// nearest returns the candidate closest to name by edit distance of the
// part after LIVESTREAMS_, or "" when none is within a third of its length.
func nearest(name string, candidates []string) string {
	n := strings.TrimPrefix(name, "LIVESTREAMS_")
	best, bestD := "", len(n)/3+1
	for _, c := range candidates {
		if d := distance(n, strings.TrimPrefix(c, "LIVESTREAMS_")); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// NewFlagSet returns a flag set for a subcommand whose usage lists the
// environment equivalents.
func NewFlagSet(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: livestreams %s [flags]\n\n%s\n\nFlags (each also settable as LIVESTREAMS_<FLAG>):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// Fail formats a configuration error that names the flag and what is allowed.
func Fail(flagName, problem string) error {
	return fmt.Errorf("--%s (%s): %s", flagName, EnvName(flagName), problem)
}

// PathVar defines a flag holding a filesystem path. A relative path, from
// the command line, the environment or the default, is made absolute
// against the working directory once, when it is set: every later use
// (a file: URL built from it, a child process started elsewhere) sees
// the same directory, wherever it runs from. An empty value stays empty.
func PathVar(fs *flag.FlagSet, p *string, name, value, usage string) {
	*p = value
	if abs, err := AbsPath(value); err == nil {
		*p = abs
	}
	fs.Var((*pathValue)(p), name, usage)
}

// AbsPath makes a non-empty path absolute against the working directory.
func AbsPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", p, err)
	}
	return abs, nil
}

type pathValue string

func (v *pathValue) String() string { return string(*v) }

func (v *pathValue) Set(s string) error {
	abs, err := AbsPath(s)
	if err != nil {
		return err
	}
	*v = pathValue(abs)
	return nil
}
