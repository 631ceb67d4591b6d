// The printed result of `npm run eval`: one row per (clip, video kind), a
// mean-over-clips row per kind, and the bar verdict next to the model rows;
// as aligned plain text or as a Markdown table.
import { checkBar } from './bar.mjs';

/** Video kinds in table order, with the labels printed for them. */
export const KINDS = [
  { key: 'model', label: 'model render' },
  { key: 'copySource', label: 'copy source (baseline)' },
  { key: 'groundTruth', label: 'ground truth (real)' },
];

const COLUMNS = ['clip', 'video', 'frames', 'face found %', 'identity dist', 'lip mean', 'lip std', 'sync z', 'bar'];

function fixed(v, digits) {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

function barCell(kind, metrics) {
  if (kind !== 'model') return '';
  const verdicts = checkBar(metrics);
  const failed = verdicts.filter((v) => !v.pass).map((v) => v.label);
  return failed.length === 0 ? 'PASS' : `FAIL (${failed.join(', ')})`;
}

function cells(clip, kind, label, m) {
  return [clip, label, String(m.frames), fixed(100 * m.faceFound, 1), fixed(m.identityDistance, 3), fixed(m.lipMean, 4), fixed(m.lipStd, 4), fixed(m.syncZ, 2), barCell(kind, m)];
}

/** Table rows: per clip and kind, then "mean" per kind. */
function tableRows(result) {
  const rows = [];
  for (const clip of result.clips) for (const k of KINDS) rows.push(cells(clip.name, k.key, k.label, clip.videos[k.key]));
  if (result.clips.length > 1) for (const k of KINDS) rows.push(cells(`mean of ${result.clips.length} clips`, k.key, k.label, result.mean[k.key]));
  return rows;
}

function plainTable(rows) {
  const all = [COLUMNS, ...rows];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const numeric = (i) => i >= 2 && i <= 7;
  const line = (r) => r.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(rows) {
  const escape = (c) => c.replace(/\|/g, '\\|');
  const align = COLUMNS.map((_, i) => (i >= 2 && i <= 7 ? '---:' : ':---'));
  return [`| ${COLUMNS.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`)].join('\n');
}

/** The bar, line by line, for the model's mean over clips (or its only clip). */
function barLines(result, markdown) {
  const model = result.clips.length > 1 ? result.mean.model : result.clips[0].videos.model;
  const scope = result.clips.length > 1 ? `mean of ${result.clips.length} clips` : result.clips[0].name;
  const head = `Bar for the model (${scope}):`;
  const lines = checkBar(model).map((v) => `${markdown ? '- ' : '  '}${v.pass ? 'pass' : 'FAIL'}  ${v.text}`);
  return [head, ...lines].join('\n');
}

/** The whole printed report. */
export function formatReport(result, { markdown = false } = {}) {
  const rows = tableRows(result);
  const table = markdown ? markdownTable(rows) : plainTable(rows);
  const head = `Model: ${result.model}`;
  const notes =
    'face found: share of frames with a face; identity dist: face-api descriptor distance to the source photo (< 0.6 same person); ' +
    'lip: inner-lip gap / inter-ocular distance; sync z: lip/speech-envelope correlation peak vs. unrelated speech.';
  return [head, '', table, '', barLines(result, markdown), '', notes].join('\n');
}
