package testcluster

import (
	"encoding/json"
	"fmt"
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

// Status asks the member for its view of the cluster.
func (m *Member) Status() (Status, error) {
	srv := m.Server()
	if srv == nil {
		return Status{}, fmt.Errorf("%s is down", m.ID)
	}
	raw, err := json.Marshal(srv.Node().Status())
	if err != nil {
		return Status{}, err
	}
	var st Status
	return st, json.Unmarshal(raw, &st)
}
