// Command livestreams is the single binary of the Livestreams platform: the
// control plane, the edge node, the all-in-one dev cluster and the admin CLI.
// It only dispatches to subcommands; all behaviour lives in the packages.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/livestreams/livestreams/controlplane/cli"
	"github.com/livestreams/livestreams/controlplane/server"
	"github.com/livestreams/livestreams/edgenode/edge"
)

// usage is the top-level help. The admin commands come from cli.Commands(),
// so a command group added there is listed here without a second list.
func usage() string {
	var b strings.Builder
	b.WriteString(`Usage: livestreams <command> [flags]

Servers:
  control     run a control-plane node
  edge        run an edge node
  dev         run a control plane and an edge in one process (quick start)

Admin (reads LIVESTREAMS_ADDR and LIVESTREAMS_TOKEN):
`)
	names := cli.Commands()
	line := " "
	for i, name := range names {
		word := " " + name
		if i < len(names)-1 {
			word += ","
		}
		if len(line)+len(word) > 78 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	b.WriteString("  Run 'livestreams <command> --help' for details.\n")
	return b.String()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	if args[0] == "help" || args[0] == "--help" || args[0] == "-help" || args[0] == "-h" {
		fmt.Fprint(stdout, usage())
		return 0
	}
	switch args[0] {
	case "control":
		return server.Command(ctx, args[1:], stdout, stderr)
	case "edge":
		return edge.Command(ctx, args[1:], stdout, stderr)
	case "dev":
		return devCommand(ctx, args[1:], stdout, stderr)
	}
	for _, name := range cli.Commands() {
		if args[0] == name {
			return cli.Run(ctx, args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "livestreams: unknown command %q (run 'livestreams help')\n", args[0])
	return 2
}
