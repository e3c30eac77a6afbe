package testcluster

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Status is what GET /v1/cluster returns.
type Status struct {
	NodeID  string `json:"node_id"`
	State   string `json:"state"`
	Leader  string `json:"leader"`
	Term    uint64 `json:"term"`
	Servers []struct {
		ID       string `json:"id"`
		Suffrage string `json:"suffrage"`
		HTTPAddr string `json:"http_addr"`
		State    string `json:"state"`
	} `json:"servers"`
}

// Status asks the member for its view of the cluster. In-process members
// answer directly; subprocesses through the /healthz-adjacent status route.
func (m *Member) Status() (Status, error) {
	if srv := m.Server(); srv != nil {
		raw, _ := json.Marshal(srv.Node().Status())
		var st Status
		err := json.Unmarshal(raw, &st)
		return st, err
	}
	req, _ := http.NewRequest(http.MethodGet, m.URL()+"/internal/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+m.c.Key)
	resp, err := httpClient.Do(req)
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("status: %s", resp.Status)
	}
	var st Status
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
