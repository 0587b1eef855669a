package routes

import (
	"fmt"
	"testing"
)

// benchRoutes generates n routes in groups of four realistic shapes per
// service, with mixed methods and verbs, so every size has the same mix.
func benchRoutes(n int) []*Route {
	shapes := []struct{ method, pattern string }{
		{"GET", "/v1/svc%d/{name=items/*}"},
		{"GET", "/v1/svc%d/{parent=items/*}/things"},
		{"POST", "/v1/svc%d/{name=items/*}/things:verb"},
		{"DELETE", "/v1/svc%d/{name=items/*/things/*}"},
	}
	rs := make([]*Route, n)
	for i := range rs {
		s := shapes[i%len(shapes)]
		rs[i] = &Route{
			Method:  s.method,
			Pattern: fmt.Sprintf(s.pattern, i/len(shapes)),
			Source:  fmt.Sprintf("bench:%d", i),
		}
	}
	return rs
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			tab := mustTable(b, benchRoutes(n))
			// The requests hit the last service with all four shapes.
			svc := n/4 - 1
			reqs := []struct{ method, path string }{
				{"GET", fmt.Sprintf("/v1/svc%d/items/42", svc)},
				{"GET", fmt.Sprintf("/v1/svc%d/items/42/things", svc)},
				{"POST", fmt.Sprintf("/v1/svc%d/items/42/things:verb", svc)},
				{"DELETE", fmt.Sprintf("/v1/svc%d/items/42/things/7", svc)},
			}
			for _, rq := range reqs {
				if _, _, err := tab.Match(rq.method, rq.path); err != nil {
					b.Fatalf("Match(%s %s): %v", rq.method, rq.path, err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				rq := reqs[i&3]
				i++
				tab.Match(rq.method, rq.path)
			}
		})
	}
}
