package server

import (
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
)

// sealWebhooks lists the webhook secrets a key other than the active one
// sealed, sealed again (resealSecrets).
func sealWebhooks(tx *state.Tx, stale func([]byte) bool,
	seal func(purpose string, stored, plain []byte) (*fsm.SealedValue, error)) ([]fsm.SealedWebhookSecret, error) {
	hooks, err := tx.Webhooks("") // secrets as stored
	if err != nil {
		return nil, err
	}
	var out []fsm.SealedWebhookSecret
	for _, w := range hooks {
		if !stale([]byte(w.SecretSealed)) {
			continue
		}
		open, err := tx.Webhook(w.OrgID, w.ID)
		if err != nil {
			return nil, err
		}
		v, err := seal(state.SealWebhookSecret, []byte(w.SecretSealed), []byte(open.SecretSealed))
		if err != nil {
			return nil, err
		}
		out = append(out, fsm.SealedWebhookSecret{OrgID: w.OrgID, ID: w.ID, SealedValue: *v})
	}
	return out, nil
}
