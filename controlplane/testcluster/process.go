package testcluster

import (
	"os/exec"

	"github.com/livestreams/livestreams/shared/testutil"
)

// startProcess runs the member as a subprocess of the built binary.
func (m *Member) startProcess() {
	args := []string{"control", "--node-id", m.ID, "--data-dir", m.DataDir, "--http-addr", m.HTTPAddr,
		"--raft-addr", m.RaftAddr, "--quic-addr", "", "--cluster-key", m.c.Key}
	if m.Index == 0 {
		args = append(args, "--bootstrap")
	} else {
		args = append(args, "--join", m.c.Members[0].URL())
	}
	cmd := exec.Command(m.c.opts.Binary, args...)
	if m.out == nil {
		m.out = &testutil.SyncBuffer{}
	}
	cmd.Stdout, cmd.Stderr = m.out, m.out
	if err := cmd.Start(); err != nil {
		m.c.t.Fatalf("start %s: %v", m.ID, err)
	}
	m.proc = cmd.Process
}

// Output returns what a subprocess member printed so far.
func (m *Member) Output() string {
	if m.out == nil {
		return ""
	}
	return m.out.String()
}
