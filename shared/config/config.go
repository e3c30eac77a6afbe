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

// Parse parses args into fs and then fills every flag not given on the
// command line from its environment variable. Bad environment values are
// reported naming both the variable and the flag.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
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
