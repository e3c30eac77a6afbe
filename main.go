// Command livestreams is the single binary of the Livestreams platform: the
// control plane, the edge node, the all-in-one dev cluster and the admin CLI.
// It only dispatches to subcommands; all behaviour lives in the packages.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "livestreams: not yet wired")
	os.Exit(2)
}
