// Pure metrics of `npm run eval` (scripts/eval/main.mjs): lip opening from 68
// landmarks, the per-frame speech envelope, lagged Pearson correlation, the
// lip-sync z-score against a null distribution, and the per-video summary.
// No I/O and no face-api here, so tests/eval-metrics.test.mjs runs in
// milliseconds.

/** Video frame rate the engine renders at; ground truth is decoded at it too. */
export const FPS = 25;
/** Sample rate of the speech the envelope is measured on. */
export const SAMPLE_RATE = 16000;
/** Lags (video frames) searched for the lip/speech correlation peak: -MAX_LAG..MAX_LAG. */
export const MAX_LAG = 3;
/** Smallest circular shift (frames) of the clip's own envelope that counts as "unrelated" speech. */
export const MIN_SHIFT = 10;
/** RMS floor before the log (-100 dB full scale): digital silence stays finite. */
const RMS_FLOOR = 1e-5;

/** Mean of the finite values (NaN when there is none). */
export function mean(values) {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      sum += v;
      n++;
    }
  }
  return n > 0 ? sum / n : NaN;
}

/** Sample standard deviation (n - 1) of the finite values (NaN below two). */
export function std(values) {
  const m = mean(values);
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      sum += (v - m) ** 2;
      n++;
    }
  }
  return n > 1 ? Math.sqrt(sum / (n - 1)) : NaN;
}

/** Euclidean distance of two equal-length vectors (face descriptors). */
export function euclidean(a, b) {
  if (a.length !== b.length) throw new Error(`Expected vectors of equal length but received ${a.length} and ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}

function centroid(points, from, to) {
  let x = 0;
  let y = 0;
  for (let i = from; i <= to; i++) {
    x += points[i][0];
    y += points[i][1];
  }
  const n = to - from + 1;
  return [x / n, y / n];
}

function distance(p, q) {
  return Math.hypot(p[0] - q[0], p[1] - q[1]);
}

/**
 * Inner-lip gap over inter-ocular distance, for 68 points in iBUG 300-W order
 * (0-based): mean of |61-67|, |62-66|, |63-65| divided by the distance of the
 * eye centres (means of 36..41 and 42..47). Scale-free, so a render, a crop
 * and the real footage compare directly.
 */
export function lipOpening(points) {
  if (!Array.isArray(points) || points.length !== 68) throw new Error(`Expected 68 landmarks but received ${points?.length}`);
  const gap = (distance(points[61], points[67]) + distance(points[62], points[66]) + distance(points[63], points[65])) / 3;
  const interOcular = distance(centroid(points, 36, 41), centroid(points, 42, 47));
  if (!(interOcular > 0)) throw new Error('Expected distinct eye centres (inter-ocular distance 0)');
  return gap / interOcular;
}

/**
 * Per-video-frame speech envelope: log RMS of the mono samples in each frame's
 * window [t/fps, (t+1)/fps), for t = 0..frames-1. Windows past the end of the
 * audio count as silence.
 */
export function speechEnvelope(samples, sampleRate, frames, fps = FPS) {
  const out = new Float64Array(frames);
  for (let t = 0; t < frames; t++) {
    const a = Math.round((t * sampleRate) / fps);
    const b = Math.min(samples.length, Math.round(((t + 1) * sampleRate) / fps));
    let sum = 0;
    for (let i = a; i < b; i++) sum += samples[i] * samples[i];
    const rms = b > a ? Math.sqrt(sum / (b - a)) : 0;
    out[t] = Math.log(Math.max(rms, RMS_FLOOR));
  }
  return out;
}

/** Whole video frames of `samples` at `fps` (the envelope length of a full speech file). */
export function frameCount(samples, sampleRate, fps = FPS) {
  return Math.floor((samples.length * fps) / sampleRate);
}

/**
 * Pearson correlation over the indices where both series are finite (frames
 * without a face are NaN). NaN when fewer than 3 pairs or a series is constant
 * there: no correlation can be measured.
 */
export function pearson(x, y) {
  const n = Math.min(x.length, y.length);
  let sx = 0;
  let sy = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(x[i]) && Number.isFinite(y[i])) {
      sx += x[i];
      sy += y[i];
      k++;
    }
  }
  if (k < 3) return NaN;
  const mx = sx / k;
  const my = sy / k;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(x[i]) && Number.isFinite(y[i])) {
      const dx = x[i] - mx;
      const dy = y[i] - my;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
  }
  // relative guard: a series equal to a constant up to float rounding is constant
  if (!(sxx > 1e-24 * k * (mx * mx + 1)) || !(syy > 1e-24 * k * (my * my + 1))) return NaN;
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * r(lag) = Pearson(lip[t], envelope[t + lag]) over the frames t where both
 * exist, for lag = -maxLag..maxLag. A positive lag means the lips move before
 * the sound.
 */
export function laggedCorrelations(lip, envelope, maxLag = MAX_LAG) {
  const out = [];
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const t0 = Math.max(0, -lag);
    const t1 = Math.min(lip.length, envelope.length - lag);
    const x = [];
    const y = [];
    for (let t = t0; t < t1; t++) {
      x.push(lip[t]);
      y.push(envelope[t + lag]);
    }
    out.push({ lag, r: pearson(x, y) });
  }
  return out;
}

/** The largest r(lag) over -maxLag..maxLag, and its lag (NaN / null when none is defined). */
export function peakCorrelation(lip, envelope, maxLag = MAX_LAG) {
  let best = { lag: null, r: NaN };
  for (const c of laggedCorrelations(lip, envelope, maxLag)) {
    if (Number.isFinite(c.r) && !(c.r <= best.r)) best = c;
  }
  return { peak: best.r, lag: best.lag };
}

/** `series` cut to `length`, or repeated from its start until it is that long. */
export function fitToLength(series, length) {
  if (series.length === 0) throw new Error('Expected a non-empty series to cut/loop');
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = series[i % series.length];
  return out;
}

/** `series` rotated right by `shift` (out[i] = series[i - shift], wrapping). */
export function circularShift(series, shift) {
  const n = series.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = series[(((i - shift) % n) + n) % n];
  return out;
}

/**
 * Lip-sync z-score: how far the lip/speech correlation peak stands above the
 * same statistic against speech that does not belong to the video.
 *
 * `envelope` is the clip's own envelope (at least lip.length frames; cut to
 * it). The null peaks are (i) each of `otherEnvelopes` cut/looped to
 * lip.length and (ii) the own envelope circularly shifted by every shift s
 * with minShift <= s <= n - minShift. z = (peak - mean(null)) / std(null);
 * NaN when the peak or the null spread is undefined (e.g. still lips).
 */
export function syncZ(lip, envelope, otherEnvelopes = [], { maxLag = MAX_LAG, minShift = MIN_SHIFT } = {}) {
  const n = lip.length;
  if (envelope.length < n) throw new Error(`Expected an envelope of at least ${n} frames but received ${envelope.length}`);
  const own = Float64Array.from(envelope.slice(0, n));
  const { peak, lag } = peakCorrelation(lip, own, maxLag);
  const nullPeaks = [];
  for (const other of otherEnvelopes) nullPeaks.push(peakCorrelation(lip, fitToLength(other, n), maxLag).peak);
  for (let s = minShift; s <= n - minShift; s++) nullPeaks.push(peakCorrelation(lip, circularShift(own, s), maxLag).peak);
  const defined = nullPeaks.filter(Number.isFinite);
  const nullMean = mean(defined);
  const nullStd = std(defined);
  const z = Number.isFinite(peak) && nullStd > 0 ? (peak - nullMean) / nullStd : NaN;
  return { z, peak, lag, nullMean, nullStd, nullCount: defined.length, nullPeaks, correlations: laggedCorrelations(lip, own, maxLag) };
}

/**
 * Summary of one analysed video. `faces[t]` is frame t's face-api result:
 * { found: false } or { found: true, landmarks (68 [x, y]), descriptor (128) }.
 * `sourceDescriptor` is the source photo's descriptor; `envelope` the clip's
 * speech envelope (>= faces.length frames); `otherEnvelopes` the null speech.
 */
export function videoMetrics({ faces, sourceDescriptor, envelope, otherEnvelopes = [], maxLag = MAX_LAG, minShift = MIN_SHIFT }) {
  const found = faces.map((f) => Boolean(f.found));
  const lip = faces.map((f) => (f.found ? lipOpening(f.landmarks) : NaN));
  const identity = faces.map((f) => (f.found ? euclidean(f.descriptor, sourceDescriptor) : NaN));
  const sync = syncZ(lip, envelope, otherEnvelopes, { maxLag, minShift });
  return {
    frames: faces.length,
    faceFound: faces.length > 0 ? found.filter(Boolean).length / faces.length : NaN,
    identityDistance: mean(identity),
    lipMean: mean(lip),
    lipStd: std(lip),
    syncZ: sync.z,
    sync: { peak: sync.peak, lag: sync.lag, nullMean: sync.nullMean, nullStd: sync.nullStd, nullCount: sync.nullCount, correlations: sync.correlations, nullPeaks: sync.nullPeaks },
    series: { faceFound: found, lipOpening: lip, identityDistance: identity, envelope: Array.from(envelope.slice(0, faces.length)) },
  };
}
