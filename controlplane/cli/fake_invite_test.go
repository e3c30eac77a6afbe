package cli

import (
	"net/http"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// inviteRoutes serve the invitations: one pending for org_1's admins to
// list and one addressed to the caller.
func (f *fakeAPI) inviteRoutes(mux *http.ServeMux) {
	inv := client.Invitation{ID: "inv_1", OrgID: "org_1", OrgName: "Acme", Email: "bob@example.com", Role: "member",
		Status: "pending", CreatedAt: ago(time.Hour), ExpiresAt: testNow.Add(7 * 24 * time.Hour)}
	mux.HandleFunc("POST /v1/orgs/{org}/invitations", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.InvitationCreate
		if !decode(w, r, &in) {
			return
		}
		out := inv
		out.ID, out.OrgID, out.OrgName, out.Email, out.Role = "inv_2", r.PathValue("org"), "", in.Email, in.Role
		writeJSON(w, 201, out)
	}))
	mux.HandleFunc("GET /v1/orgs/{org}/invitations", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		list(w, []client.Invitation{inv})
	}))
	mux.HandleFunc("GET /v1/invitations", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		list(w, []client.Invitation{inv})
	}))
	mux.HandleFunc("POST /v1/invitations/{id}/accept", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		if r.PathValue("id") != "inv_1" {
			writeError(w, 404, "not_found", "invitation not found")
			return
		}
		writeJSON(w, 200, client.Member{UserID: "usr_2", Email: "bob@example.com", Role: "member", CreatedAt: testNow})
	}))
	mux.HandleFunc("POST /v1/invitations/{id}/decline", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		w.WriteHeader(204)
	}))
}
