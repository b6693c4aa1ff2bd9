// Charts drawn by TradingView's lightweight-charts (vendor/, a market-chart library): candles
// with trade markers, equity with drawdown. Colours follow the page's light or dark theme.

const LC = () => window.LightweightCharts;

export const toSeconds = (iso) => Math.floor(Date.parse(iso) / 1000);

function themed() {
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  return {
    layout: { background: { color: color("--bg") }, textColor: color("--fg"), attributionLogo: false },
    grid: { vertLines: { color: color("--line") }, horzLines: { color: color("--line") } },
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { borderColor: color("--line") },
    autoSize: true,
  };
}

export function colors() {
  const css = getComputedStyle(document.documentElement);
  return { good: css.getPropertyValue("--good").trim(), bad: css.getPropertyValue("--bad").trim(), accent: css.getPropertyValue("--accent").trim() };
}

export function createChart(container, options = {}) {
  const chart = LC().createChart(container, { ...themed(), ...options });
  // The container may get its size after the chart is made: fit the data to the width it ends
  // up with, once (later resizes keep the user's zoom).
  const sized = new ResizeObserver((entries) => {
    if (entries[0].contentRect.width > 0) {
      chart.timeScale().fitContent();
      sized.disconnect();
    }
  });
  sized.observe(container);
  return chart;
}

export function candleSeries(chart) {
  const c = colors();
  return chart.addSeries(LC().CandlestickSeries, { upColor: c.good, downColor: c.bad, wickUpColor: c.good, wickDownColor: c.bad, borderVisible: false });
}

export function lineSeries(chart, options = {}) {
  return chart.addSeries(LC().LineSeries, { color: colors().accent, lineWidth: 2, ...options });
}

export function areaSeries(chart, options = {}, pane = 0) {
  return chart.addSeries(LC().AreaSeries, options, pane);
}

export function setMarkers(series, markers) {
  return LC().createSeriesMarkers(series, markers);
}

export const candle = (c) => ({ time: toSeconds(c.opened_at), open: +c.open, high: +c.high, low: +c.low, close: +c.close });
