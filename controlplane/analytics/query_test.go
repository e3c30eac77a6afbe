package analytics

import (
	"errors"
	"testing"
	"time"
)

func TestQueryValidate(t *testing.T) {
	to := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ok := Query{OrgID: "org", StreamID: "str", From: to.Add(-time.Hour), To: to, GroupBy: GroupHour}
	for name, tc := range map[string]struct {
		edit func(*Query)
		bad  bool
	}{
		"ok":            {edit: func(q *Query) {}},
		"asset":         {edit: func(q *Query) { q.StreamID, q.AssetID = "", "ast" }},
		"both":          {edit: func(q *Query) { q.AssetID = "ast" }, bad: true},
		"neither":       {edit: func(q *Query) { q.StreamID = "" }, bad: true},
		"backwards":     {edit: func(q *Query) { q.From = to.Add(time.Hour) }, bad: true},
		"group":         {edit: func(q *Query) { q.GroupBy = "week" }, bad: true},
		"long minutes":  {edit: func(q *Query) { q.GroupBy, q.From = GroupMinute, to.Add(-8*24*time.Hour) }, bad: true},
		"long hours ok": {edit: func(q *Query) { q.From = to.Add(-300 * 24 * time.Hour) }},
		"too long":      {edit: func(q *Query) { q.From = to.Add(-500 * 24 * time.Hour) }, bad: true},
	} {
		q := ok
		tc.edit(&q)
		err := q.Validate()
		var iq *InvalidQueryError
		if tc.bad != (err != nil) || err != nil && !errors.As(err, &iq) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
