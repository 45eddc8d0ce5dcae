// The files a benchmark run writes into its output folder.

export const RESULTS_FILE = 'results.json';
export const REPORT_FILE = 'report.md';
export const CHART_FILE = 'chart.svg';
