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
