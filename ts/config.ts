// The model hyper-parameters, as stored in the model file's metadata
// ("config"): train/s3d_nerf/config.py is the source of truth, cpp/core/model_config.h
// the engine's copy; train/tests/test_config_sync.py checks that these interfaces have
// exactly its keys and types. Field names keep the file's snake_case so the three stay
// greppable together.
import { ModelFormatError } from './errors.js';

export interface AudioFrontEndConfig {
  readonly kind: string; // 'logmel'
  readonly sample_rate: number;
  readonly n_fft: number;
  readonly hop: number;
  readonly n_mels: number;
  readonly f_min: number;
  readonly f_max: number;
  readonly log_floor: number;
  readonly window_frames: number;
  readonly fps: number;
}

export interface ModelConfig {
  readonly name: string;
  /** Side of the aligned square face crop the model takes and renders (256 for s3d-64). */
  readonly image_size: number;
  readonly enc_channels: readonly number[];
  readonly plane_channels: number;
  readonly lrelu_slope: number;
  readonly slot_dim: number;
  readonly slot_iters: number;
  readonly slot_mlp: number;
  readonly audio_channels: number;
  readonly audio_tokens: number;
  readonly audio_code: number;
  readonly heads: number;
  readonly cm_channels: number;
  readonly pe_freqs: number;
  readonly deform_hidden: readonly number[];
  readonly decoder_hidden: number;
  readonly feat_channels: number;
  readonly render_size: number;
  readonly n_coarse: number;
  readonly n_importance: number;
  readonly ray_near: number;
  readonly ray_far: number;
  readonly focal: number;
  readonly cam_radius: number;
  readonly sr_source_channels: readonly number[];
  readonly sr_mid_channels: number;
  readonly sr_out_channels: number;
  /**
   * Box `[x0, y0, x1, y1]` (fractions of the aligned crop) inside which the SR source
   * branch sees mid-grey instead of the inner face, so the mouth must come through the
   * NeRF; `[]` = no hole. Its edges ramp linearly over `sr_hole_feather`. The engine
   * reads older model files' `sr_hide_below` = b as `[0, b, 1, 1]` with no feather.
   */
  readonly sr_hole: readonly number[];
  readonly sr_hole_feather: number;
  /**
   * Whether the SR blends its output with the source per pixel: image = g * seen +
   * (1 - g) * generated, where seen is the source photo as the SR branch sees it (mouth
   * hidden) and g a learned gate, so static regions stay as sharp as the photo. Older
   * model files: false.
   */
  readonly sr_source_gate: boolean;
  /**
   * Whether the SR pastes the source outside the mouth hole: image = keep * seen +
   * (1 - keep) * generated, keep = 1 - the mouth-hole weight, so the photo is kept as is
   * outside the hole and the mouth is generated inside it (no learned gate). Needs a
   * non-empty `sr_hole`; excludes `sr_source_gate`. Older model files: false.
   */
  readonly sr_paste_source: boolean;
  /**
   * Half-size e of the tri-plane box [-e, e]^3, and whether plane y points down: a point
   * p samples the planes and the F_cm map at p / e (y negated when `plane_y_down`), so
   * the XY plane lines up with the source image. Older model files: 0.5 and false.
   */
  readonly plane_extent: number;
  readonly plane_y_down: boolean;
  readonly audio: AudioFrontEndConfig;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Parses the engine's config JSON; the engine has already validated the fields. */
export function parseModelConfig(json: string): ModelConfig {
  let c: unknown;
  try {
    c = JSON.parse(json);
  } catch (err) {
    throw new ModelFormatError(`The model config is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const cfg = c as Partial<ModelConfig> | null;
  if (!cfg || typeof cfg.image_size !== 'number' || typeof cfg.audio?.fps !== 'number')
    throw new ModelFormatError('The model config lacks image_size or audio.fps');
  return deepFreeze(cfg as ModelConfig);
}
