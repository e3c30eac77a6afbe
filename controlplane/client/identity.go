package client

import (
	"context"
	"time"
)

// JoinTokenInfo is a join token as listed: never its secret.
type JoinTokenInfo struct {
	ID          string     `json:"id"`
	Description string     `json:"description,omitempty"`
	State       string     `json:"state"` // "usable", "used", "expired" or "revoked"
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at,omitzero"`
	UsedAt      *time.Time `json:"used_at,omitempty"`
	UsedBy      string     `json:"used_by,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// ClusterCA is one CA the cluster trusts.
type ClusterCA struct {
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	// Role is "current" (issues edge certificates) or "retiring" (still
	// trusted until the rotation finishes).
	Role string `json:"role"`
}

// CAStatus is the cluster's CAs and which edges still hold a certificate
// from a retiring one.
type CAStatus struct {
	CAs []ClusterCA `json:"cas"`
	// Rotating is true between `cluster ca rotate` and `cluster ca finish`.
	Rotating bool `json:"rotating"`
	// Pending are the edges whose certificate is not yet from the current
	// CA (they renew when they next connect).
	Pending []string `json:"pending"`
}

// CARotate starts a rotation; with ExpectCurrent (a fingerprint) only if
// that is still the current CA, so two operators cannot rotate twice.
type CARotate struct {
	ExpectCurrent string `json:"expect_current,omitempty"`
}

// CAFinish finishes a rotation; Force drops the retiring CA even while
// edges still hold certificates from it (they must join again).
type CAFinish struct {
	Force bool `json:"force,omitempty"`
}

// JoinTokens lists the edge join tokens, used and expired ones included.
func (cl Cluster) JoinTokens(ctx context.Context) ([]JoinTokenInfo, error) {
	var out List[JoinTokenInfo]
	return out.Items, cl.c.get(ctx, "/v1/cluster/join-tokens", nil, &out)
}

// RevokeJoinToken revokes a join token so it joins nothing.
func (cl Cluster) RevokeJoinToken(ctx context.Context, id string) error {
	return cl.c.delete(ctx, pathf("/v1/cluster/join-tokens/%s", id), nil)
}

// CA shows the cluster's CAs and the progress of a rotation.
func (cl Cluster) CA(ctx context.Context) (CAStatus, error) {
	var out CAStatus
	return out, cl.c.get(ctx, "/v1/cluster/ca", nil, &out)
}

// RotateCA creates a new cluster CA; the current one stays trusted until
// FinishCARotation.
func (cl Cluster) RotateCA(ctx context.Context, r CARotate) (CAStatus, error) {
	var out CAStatus
	return out, cl.c.post(ctx, "/v1/cluster/ca/rotate", r, &out)
}

// FinishCARotation stops trusting the retiring CA; a conflict while edges
// still hold certificates from it, unless forced.
func (cl Cluster) FinishCARotation(ctx context.Context, r CAFinish) (CAStatus, error) {
	var out CAStatus
	return out, cl.c.post(ctx, "/v1/cluster/ca/finish", r, &out)
}

// Remove revokes the edge's certificate, forgets it and ends its sessions;
// the edge is cut off at once and needs a new join token to come back.
func (n Nodes) Remove(ctx context.Context, id string) error {
	return n.c.delete(ctx, pathf("/v1/nodes/%s", id), nil)
}
