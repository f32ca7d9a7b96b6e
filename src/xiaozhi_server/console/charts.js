// Small SVG bar charts drawn here: no charting code is copied into the repository.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function barChart(title, bars, { width = 640, height = 220 } = {}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const step = width / Math.max(1, bars.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 40}`, role: "img", "aria-label": title, class: "chart" });
  chart.append(svg("title", {}, title));
  bars.forEach((bar, i) => {
    const h = (bar.value / max) * (height - 20);  // room above the tallest bar for its label
    const x = i * step + step * 0.15;
    chart.append(
      svg("rect", { x, y: height - h, width: step * 0.7, height: h, class: "bar" }, undefined),
      svg("text", { x: x + step * 0.35, y: height - h - 4, "text-anchor": "middle", class: "value" }, bar.value),
      svg("text", { x: x + step * 0.35, y: height + 16, "text-anchor": "middle", class: "label" }, bar.label));
  });
  return chart;
}

export function shareBar(title, share) {
  const percent = Math.round(share * 1000) / 10;
  const chart = svg("svg", { viewBox: "0 0 640 40", role: "img", "aria-label": `${title}: ${percent}%`, class: "chart share" });
  chart.append(svg("title", {}, title), svg("rect", { x: 0, y: 5, width: 640, height: 30, class: "track" }),
    svg("rect", { x: 0, y: 5, width: 6.4 * percent, height: 30, class: "bar" }),
    svg("text", { x: 8, y: 26, class: "value" }, `${percent}%`));
  return chart;
}
