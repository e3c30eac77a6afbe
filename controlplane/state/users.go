package state

import (
	"slices"
	"strings"
	"time"
)

// Role is a member's or API key's power within an org.
type Role string

// Roles, strongest first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// Roles lists the roles, strongest first.
func Roles() []Role { return []Role{RoleOwner, RoleAdmin, RoleMember, RoleViewer} }

// Rank orders roles: a higher rank may do everything a lower one may; an
// unknown role ranks 0.
func (r Role) Rank() int {
	roles := Roles()
	if i := slices.Index(roles, r); i >= 0 {
		return len(roles) - i
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.Rank() > 0 }

// User is a person who logs in to the dashboard or API.
type User struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name,omitempty"`
	PasswordHash string `json:"password_hash"`
	// Admin marks a cluster administrator (the bootstrap owner and whoever
	// they promote): may run cluster-wide operations such as snapshots.
	Admin     bool      `json:"admin,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Member ties a user to an org with a role.
type Member struct {
	OrgID     string    `json:"org_id"`
	UserID    string    `json:"user_id"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// NormalizeEmail is the form emails are indexed by.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// User returns one user.
func (t *Tx) User(id string) (User, error) {
	var u User
	ok, err := t.get(bUsers, id, &u)
	if err == nil && !ok {
		err = NotFound("user %s", id)
	}
	return u, err
}

// UserByEmail finds a user by (normalized) email.
func (t *Tx) UserByEmail(email string) (User, error) {
	id := t.getString(bUserEmails, NormalizeEmail(email))
	if id == "" {
		return User{}, NotFound("user")
	}
	return t.User(id)
}

// CountUsers returns how many users exist.
func (t *Tx) CountUsers() int { return t.tx.Bucket(bUsers).Stats().KeyN }

// PutUser stores a user, refusing an email another user holds.
func (t *Tx) PutUser(u User) error {
	email := NormalizeEmail(u.Email)
	if owner := t.getString(bUserEmails, email); owner != "" && owner != u.ID {
		return Conflict("a user with that email already exists")
	}
	if err := t.putString(bUserEmails, email, u.ID); err != nil {
		return err
	}
	return t.put(bUsers, u.ID, u)
}

// Member returns a membership.
func (t *Tx) Member(orgID, userID string) (Member, error) {
	var m Member
	ok, err := t.get(bMembers, orgID+"/"+userID, &m)
	if err == nil && !ok {
		err = NotFound("member %s of org %s", userID, orgID)
	}
	return m, err
}

// Members lists an org's members.
func (t *Tx) Members(orgID string) ([]Member, error) {
	return list[Member](t, bMembers, orgID+"/")
}

// UserOrgs lists the memberships of one user.
func (t *Tx) UserOrgs(userID string) ([]Member, error) {
	return list[Member](t, bUserOrgs, userID+"/")
}

// PutMember stores a membership and its reverse index.
func (t *Tx) PutMember(m Member) error {
	if err := t.put(bMembers, m.OrgID+"/"+m.UserID, m); err != nil {
		return err
	}
	return t.put(bUserOrgs, m.UserID+"/"+m.OrgID, m)
}

// DeleteMember removes a membership.
func (t *Tx) DeleteMember(orgID, userID string) error {
	if err := t.del(bMembers, orgID+"/"+userID); err != nil {
		return err
	}
	return t.del(bUserOrgs, userID+"/"+orgID)
}
