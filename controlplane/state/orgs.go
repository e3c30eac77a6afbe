package state

import "time"

// Org is a tenant: every other object belongs to exactly one.
type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Org returns one org.
func (t *Tx) Org(id string) (Org, error) {
	var o Org
	ok, err := t.get(bOrgs, id, &o)
	if err == nil && !ok {
		err = NotFound("org %s", id)
	}
	return o, err
}

// Orgs lists all orgs.
func (t *Tx) Orgs() ([]Org, error) { return list[Org](t, bOrgs, "") }

// PutOrg stores an org.
func (t *Tx) PutOrg(o Org) error { return t.put(bOrgs, o.ID, o) }

// DeleteOrg removes an org and everything it owns.
func (t *Tx) DeleteOrg(id string) error {
	members, err := t.Members(id)
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := t.DeleteMember(m.OrgID, m.UserID); err != nil {
			return err
		}
	}
	keys, err := t.APIKeys(id)
	if err != nil {
		return err
	}
	for _, k := range keys {
		t.del(bAPIKeyHash, k.Hash)
		t.del(bAPIKeys, k.ID)
	}
	streams, err := t.Streams(id)
	if err != nil {
		return err
	}
	for _, s := range streams {
		if err := t.DeleteStream(s.ID); err != nil {
			return err
		}
	}
	sks, err := t.SigningKeys(id)
	if err != nil {
		return err
	}
	for _, k := range sks {
		t.del(bSigningKeys, k.OrgID+"/"+k.ID)
	}
	if err := t.DeleteOrgInvitations(id); err != nil {
		return err
	}
	if err := t.DeleteOrgLinkedAccounts(id); err != nil {
		return err
	}
	if err := t.DeleteOrgWebhooks(id); err != nil {
		return err
	}
	return t.del(bOrgs, id)
}
