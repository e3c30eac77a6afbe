package main

import (
	"context"
	"fmt"
	"io"
)

func admin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "livestreams: unknown command %q\n", args[0])
	return 2
}
