// Command promparse reads the Prometheus text exposition format on stdin with Prometheus' own parser
// (github.com/prometheus/common/expfmt) and prints every series as a JSON array, or exits 1 with the
// parser's error. Outpost's tests use it to read the hub's /metrics; it is never shipped.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type series struct {
	Name   string            `json:"name"`
	Type   string            `json:"type"`
	Labels map[string]string `json:"labels"`
	// text, as Prometheus writes it, since JSON has no NaN or infinities
	Value string `json:"value"`
}

func text(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func labelsOf(m *dto.Metric, extra ...string) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	for i := 0; i+1 < len(extra); i += 2 {
		out[extra[i]] = extra[i+1]
	}
	return out
}

func main() {
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	out := []series{}
	for _, name := range names {
		f := families[name]
		kind := map[dto.MetricType]string{
			dto.MetricType_COUNTER: "counter", dto.MetricType_GAUGE: "gauge", dto.MetricType_SUMMARY: "summary",
			dto.MetricType_UNTYPED: "untyped", dto.MetricType_HISTOGRAM: "histogram",
		}[f.GetType()]
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, series{name, kind, labelsOf(m), text(m.GetCounter().GetValue())})
			case dto.MetricType_GAUGE:
				out = append(out, series{name, kind, labelsOf(m), text(m.GetGauge().GetValue())})
			case dto.MetricType_UNTYPED:
				out = append(out, series{name, kind, labelsOf(m), text(m.GetUntyped().GetValue())})
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					le := text(b.GetUpperBound())
					out = append(out, series{name + "_bucket", kind, labelsOf(m, "le", le), text(float64(b.GetCumulativeCount()))})
				}
				out = append(out, series{name + "_bucket", kind, labelsOf(m, "le", "+Inf"), text(float64(h.GetSampleCount()))})
				out = append(out, series{name + "_sum", kind, labelsOf(m), text(h.GetSampleSum())})
				out = append(out, series{name + "_count", kind, labelsOf(m), text(float64(h.GetSampleCount()))})
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					out = append(out, series{name, kind, labelsOf(m, "quantile", text(q.GetQuantile())), text(q.GetValue())})
				}
				out = append(out, series{name + "_sum", kind, labelsOf(m), text(s.GetSampleSum())})
				out = append(out, series{name + "_count", kind, labelsOf(m), text(float64(s.GetSampleCount()))})
			}
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
