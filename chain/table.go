package chain

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteHopLine prints one component as the watch shows it live: a job's
// hop, or an ordinary action with its status and billed time.
func WriteHopLine(w io.Writer, h Hop, chainStart int64) {
	if h.Status == StatusHandedOver {
		el := time.Duration(h.End-chainStart) * time.Millisecond
		fmt.Fprintf(w, "handed over at the composition length limit: invocation %s goes on (elapsed %s)\n", h.Activation, el.Round(100*time.Millisecond))
		return
	}
	if h.Component {
		el := time.Duration(h.End-chainStart) * time.Millisecond
		fmt.Fprintf(w, "action %-26s %-12s elapsed %-7s billed %s%s\n", h.Action, h.Status, el.Round(100*time.Millisecond), ms(h.Duration), causeSuffix(h))
		return
	}
	m := h.Metrics
	overhead := m.CheckpointMS + m.UploadMS + m.DownloadMS + m.RestoreMS
	el := time.Duration(h.End-chainStart) * time.Millisecond
	if h.Job != "" {
		fmt.Fprintf(w, "job %s ", h.Job)
	}
	fmt.Fprintf(w, "hop %s attempt %s  %-12s engine %-11s elapsed %-7s work %-6s overhead %-6s image %s%s\n",
		orQ(h.Hop), orQ(h.Attempt), h.Status, orDash(h.Engine), el.Round(100*time.Millisecond),
		ms(m.WorkMS), ms(overhead), bytes(m.ImageBytes), causeSuffix(h))
}

// WriteTable prints the per-hop table of a finished job.
func WriteTable(w io.Writer, hops []Hop) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "hop\tattempt\tstatus\tengine\tbilled\twork\tcheckpoint\tupload\tdownload\trestore\timage\tgen\t")
	var total, work, over int64
	for _, h := range hops {
		if h.Component {
			continue
		}
		m := h.Metrics
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n",
			orQ(h.Hop), orQ(h.Attempt), h.Status, orDash(h.Engine), ms(h.Duration), ms(m.WorkMS), ms(m.CheckpointMS),
			ms(m.UploadMS), ms(m.DownloadMS), ms(m.RestoreMS), bytes(m.ImageBytes), h.Generation)
		total += h.Duration
		work += m.WorkMS
		over += m.CheckpointMS + m.UploadMS + m.DownloadMS + m.RestoreMS
	}
	fmt.Fprintf(tw, "total\t\t\t\t%s\t%s\toverhead %s\t\t\t\t\t\t\n", ms(total), ms(work), ms(over))
	return tw.Flush()
}

func causeSuffix(h Hop) string {
	if h.Cause == "" {
		return ""
	}
	return "  (" + h.Cause + ")"
}

func orQ(n int) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ms(v int64) string {
	return (time.Duration(v) * time.Millisecond).Round(10 * time.Millisecond).String()
}

func bytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
