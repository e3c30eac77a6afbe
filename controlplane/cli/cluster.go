package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/livestreams/livestreams/controlplane/client"
)

func clusterStatus(ctx context.Context, e *env, args []string) error {
	c := e.command("cluster status", "", `
Show the control-plane nodes (Raft members), which one leads, and the
position of the Raft log as seen by the node that answers. Needs a cluster
admin.`)
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	v, err := cl.Cluster().Status(c.keep(ctx))
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	rows := make([][]string, 0, len(v.Nodes))
	for _, n := range v.Nodes {
		rows = append(rows, []string{n.ID, orDash(n.HTTPAddr), orDash(n.RaftAddr), n.State, yesno(n.Voter), yesno(n.Healthy)})
	}
	if err := table(c.stdout, []string{"ID", "ADDRESS", "RAFT ADDRESS", "STATE", "VOTER", "HEALTHY"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	return fields(c.stdout, [][2]string{
		{"Cluster ID", orDash(v.ClusterID)},
		{"Leader", orDash(v.LeaderID)},
		{"Term", u(v.Term)},
		{"Last index", u(v.LastIndex)},
		{"Commit index", u(v.CommitIndex)},
		{"Applied index", u(v.AppliedIndex)},
		{"Last snapshot index", u(v.LastSnapshotIndex)},
	})
}

func clusterJoin(ctx context.Context, e *env, args []string) error {
	c := e.command("cluster join", "", `
Add a control-plane node to the cluster as a voter. The node must already be
running with the same cluster key; the request is forwarded to the leader.`)
	id := c.fs.String("id", "", "node ID (required)")
	raftAddr := c.fs.String("raft-addr", "", "the node's Raft address, host:port (required)")
	httpAddr := c.fs.String("http-addr", "", "the node's HTTP API address (required)")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"id", *id}, {"raft-addr", *raftAddr}, {"http-addr", *httpAddr}} {
		if f.v == "" {
			return c.usage("--%s is required", f.name)
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if _, err := cl.Cluster().AddMember(c.keep(ctx), client.ClusterMember{ID: *id, RaftAddr: *raftAddr, HTTPAddr: *httpAddr}); err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "Added node %s (raft %s, http %s) as a voter\n", *id, *raftAddr, *httpAddr)
	return nil
}

func clusterRemove(ctx context.Context, e *env, args []string) error {
	c := e.command("cluster remove", "ID", "Remove a control-plane node from the cluster.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Cluster().RemoveMember(ctx, c.pos[0]) }, "Removed node "+c.pos[0])
}
