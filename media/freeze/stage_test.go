package freeze

import "testing"

func TestStage(t *testing.T) {
	type ev struct {
		at    int64 // ms
		who   string
		frame bool // a frame from who, else a change to who
	}
	cases := []struct {
		name string
		evs  []ev
		end  int64 // ms
		want StageStats
	}{
		{"nobody on stage", []ev{{100, "a", true}}, 1000, StageStats{}},
		{"continuous", []ev{{0, "a", false}, {100, "a", true}, {300, "a", true}, {500, "a", true}, {700, "a", true}}, 800,
			StageStats{OnStage: 800, Switches: 1, Waiting: 100}},
		{"a freeze after the first frame", []ev{{0, "a", false}, {50, "a", true}, {150, "a", true}, {1150, "a", true}}, 1200,
			StageStats{OnStage: 1200, Switches: 1, Waiting: 50, Frozen: 1000}},
		{"frozen at the end", []ev{{0, "a", false}, {50, "a", true}}, 1050,
			StageStats{OnStage: 1050, Switches: 1, Waiting: 50, Frozen: 1000}},
		{"others' frames do not count", []ev{{0, "a", false}, {100, "b", true}, {200, "a", true}}, 300,
			StageStats{OnStage: 300, Switches: 1, Waiting: 200}},
		{"never seen", []ev{{0, "a", false}, {500, "b", false}, {600, "b", true}}, 700,
			StageStats{OnStage: 700, Switches: 2, Waiting: 600, Unseen: 1}},
		{"the receiver speaking is off stage", []ev{{0, "a", false}, {100, "a", true}, {200, "", false}, {900, "a", false}, {950, "a", true}}, 1000,
			StageStats{OnStage: 300, Switches: 2, Waiting: 150}},
		{"the same speaker again is no change", []ev{{0, "a", false}, {100, "a", true}, {200, "a", false}, {300, "a", true}}, 400,
			StageStats{OnStage: 400, Switches: 1, Waiting: 100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Stage
			for _, e := range c.evs {
				if e.frame {
					s.Frame(e.who, e.at*ms)
				} else {
					s.Change(e.who, e.at*ms)
				}
			}
			w := c.want
			w.OnStage, w.Waiting, w.Frozen = w.OnStage*ms, w.Waiting*ms, w.Frozen*ms
			if got := s.Stats(c.end * ms); got != w {
				t.Errorf("got %+v, want %+v", got, w)
			}
			// Stats does not close the stage for good.
			if got := s.Stats(c.end * ms); got != w {
				t.Errorf("second Stats: got %+v, want %+v", got, w)
			}
		})
	}
}
