// The usage page: totals from GET /api/v1/usage/stats and two bar charts drawn as SVG (tokens by
// day, stacked input/output; cost and tokens by model). No charting library: a few rectangles.
import { api } from "./api.js";
import { $, fmtInt, fmtUsd, h, s } from "./dom.js";

function totalsView(d) {
    const rows = [
        ["Conversations", fmtInt(d.conversation_count), "conversations"],
        ["Messages", fmtInt(d.message_count), "messages"],
        ["Input tokens", fmtInt(d.total_input_tokens), "input"],
        ["Output tokens", fmtInt(d.total_output_tokens), "output"],
        ["Total tokens", fmtInt(d.total_input_tokens + d.total_output_tokens), "tokens"],
        ["Estimated cost", fmtUsd(d.estimated_cost_usd), "cost"],
    ];
    return rows.map(([label, value, key]) => h("div", { class: "total", dataset: { total: key } }, h("dt", {}, label), h("dd", {}, value)));
}

// A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least `v`.
function niceMax(v) {
    if (v <= 0) {
        return 1;
    }
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) {
        if (m * p >= v) {
            return m * p;
        }
    }
    return 10 * p;
}

/** Vertical stacked bars: one per day, input below output. */
function dayChart(days) {
    const barW = 28;
    const gap = 14;
    const left = 56;
    const top = 12;
    const plotH = 160;
    const width = Math.max(320, left + days.length * (barW + gap) + gap);
    const height = top + plotH + 44;
    const max = niceMax(Math.max(...days.map((d) => d.input_tokens + d.output_tokens), 0));
    const y = (v) => top + plotH - (v / max) * plotH;
    const svg = s("svg", {
        viewBox: `0 0 ${width} ${height}`,
        width,
        height,
        role: "img",
        "aria-labelledby": "day-chart-title day-chart-desc",
        class: "bar-chart",
        id: "day-chart",
    });
    const total = days.reduce((a, d) => a + d.input_tokens + d.output_tokens, 0);
    svg.append(
        s("title", { id: "day-chart-title" }, "Tokens by day"),
        s("desc", { id: "day-chart-desc" }, `${fmtInt(total)} tokens over ${days.length} day${days.length === 1 ? "" : "s"}, input and output stacked.`)
    );
    for (const t of [0, 0.5, 1]) {
        const v = max * t;
        svg.append(
            s("line", { x1: left - 4, x2: width, y1: y(v), y2: y(v), class: "grid" }),
            s("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end", class: "axis" }, fmtInt(Math.round(v)))
        );
    }
    days.forEach((d, i) => {
        const x = left + gap + i * (barW + gap);
        const g = s("g", {
            class: "bar",
            "data-date": d.date,
            "data-input": d.input_tokens,
            "data-output": d.output_tokens,
            "data-cost": d.cost_usd,
        });
        const inTop = y(d.input_tokens);
        const outTop = y(d.input_tokens + d.output_tokens);
        g.append(
            s("title", {}, `${d.date}: ${fmtInt(d.input_tokens)} input + ${fmtInt(d.output_tokens)} output tokens, ${d.message_count} messages, ${fmtUsd(d.cost_usd)}`),
            s("rect", { x, y: inTop, width: barW, height: Math.max(0, top + plotH - inTop), class: "in" }),
            s("rect", { x, y: outTop, width: barW, height: Math.max(0, inTop - outTop), class: "out" }),
            s("text", { x: x + barW / 2, y: top + plotH + 16, "text-anchor": "middle", class: "axis" }, d.date.slice(5))
        );
        svg.append(g);
    });
    svg.append(
        s("rect", { x: left, y: height - 16, width: 10, height: 10, class: "in" }),
        s("text", { x: left + 14, y: height - 7, class: "axis" }, "input"),
        s("rect", { x: left + 60, y: height - 16, width: 10, height: 10, class: "out" }),
        s("text", { x: left + 74, y: height - 7, class: "axis" }, "output")
    );
    return svg;
}

/** Horizontal bars: one per model, length by tokens, labelled with tokens and cost. */
function modelChart(models) {
    const rowH = 30;
    const labelW = 150;
    const width = 560;
    const barMax = width - labelW - 170;
    const height = models.length * rowH + 8;
    const max = Math.max(...models.map((m) => m.input_tokens + m.output_tokens), 1);
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": "model-chart-title", class: "bar-chart", id: "model-chart" });
    svg.append(s("title", { id: "model-chart-title" }, "Tokens and cost by model"));
    models.forEach((m, i) => {
        const tokens = m.input_tokens + m.output_tokens;
        const y = 4 + i * rowH;
        const w = Math.max(2, (tokens / max) * barMax);
        const g = s("g", { class: "bar", "data-model": m.model, "data-tokens": tokens, "data-cost": m.cost_usd });
        g.append(
            s("title", {}, `${m.model}: ${fmtInt(tokens)} tokens, ${m.message_count} messages, ${fmtUsd(m.cost_usd)}`),
            s("text", { x: labelW - 8, y: y + 17, "text-anchor": "end", class: "axis" }, m.model.length > 22 ? `${m.model.slice(0, 21)}…` : m.model),
            s("rect", { x: labelW, y: y + 4, width: w, height: rowH - 10, class: "model" }),
            s("text", { x: labelW + w + 6, y: y + 17, class: "axis" }, `${fmtInt(tokens)} tok · ${fmtUsd(m.cost_usd)}`)
        );
        svg.append(g);
    });
    return svg;
}

export async function showUsage() {
    const status = $("usage-status");
    status.textContent = "Loading…";
    let d;
    try {
        d = (await api.json("GET", "/api/v1/usage/stats")).data;
    } catch (err) {
        status.textContent = `Could not load usage: ${err.message}`;
        return;
    }
    status.textContent = d.message_count === 0 ? "No usage yet: send a message first." : "";
    $("usage-totals").replaceChildren(...totalsView(d));
    const days = [...(d.by_day ?? [])].sort((a, b) => (a.date < b.date ? -1 : 1));
    $("usage-by-day").replaceChildren(days.length ? dayChart(days) : h("p", { class: "muted" }, "Nothing yet."));
    const models = [...(d.by_model ?? [])].sort((a, b) => b.input_tokens + b.output_tokens - (a.input_tokens + a.output_tokens));
    $("usage-by-model").replaceChildren(models.length ? modelChart(models) : h("p", { class: "muted" }, "Nothing yet."));
}
