// s3d-nerf public API.
import './dispose.js';
import { native, type NativeCpuFeatures } from './native.js';

export { createSession, availableBackends, DEFAULT_MODEL, Session } from './session.js';
export type { Backend, BackendChoice, Precision, SessionOptions } from './session.js';
export { cudaDiagnostics } from './cuda.js';
export type { CudaDiagnostics } from './cuda.js';
export type { NativeCudaProbe, NativeCudaLibrary } from './native.js';
export { Identity } from './identity.js';
export type { EncodeIdentityOptions } from './identity.js';
export { alignPhoto, detectFace, loadFaceModels } from './face/index.js';
export type { AlignPhotoOptions, FaceAlignment, AlignedFace, DetectFaceOptions, DetectedFace, RgbImage } from './face/index.js';
export { pasteBack } from './face/paste-back.js';
export type { PastedFrame, FaceFrame } from './face/paste-back.js';
export type { ImageInput, RawImage } from './image.js';
export type { Landmarks, MaskInput } from './mask.js';
export { TEMPLATE_ELLIPSE, templateMask } from './mask.js';
export { AudioTrack, decodeAudioStream, findFfmpeg, decodeWithFfmpeg } from './audio/index.js';
export type {
  AudioInput,
  PrepareAudioOptions,
  PcmFormat,
  DecodeAudioStreamOptions,
  ByteSource,
  PcmChunk,
  FfmpegInfo,
  DecodeWithFfmpegOptions,
} from './audio/index.js';
export type { Frame, PixelFormat, RenderFrameOptions, RenderFramesOptions } from './render.js';
export { LiveStream, liveLookaheadSeconds } from './live.js';
export type { LiveOptions, LiveFrame, LiveStats, LiveBackpressure, TimingSummary } from './live.js';
export { frontalPose, poseFromAngles, offsetPose, orbitTrack, parsePoseTrack, toPoseMatrix, CAMERA_RADIUS, LOOK_AT } from './camera.js';
export type { Pose, PoseAngles, PoseTrack, OrbitOptions, ParsePoseTrackOptions } from './camera.js';
export {
  renderVideo,
  writeMp4,
  writeY4m,
  writePngSequence,
  writeVideo,
  openMp4Writer,
  openY4mWriter,
  openPngSequenceWriter,
  videoKind,
} from './video/index.js';
export type {
  RenderVideoOptions,
  VideoFrame,
  VideoFrames,
  VideoPoses,
  VideoProgress,
  Mp4Audio,
  Mp4Options,
  Y4mOptions,
  PngSequenceOptions,
  WriteVideoOptions,
  VideoFileKind,
  FrameSink,
  FrameSource,
  WriteResult,
} from './video/index.js';
export type { ModelConfig, AudioFrontEndConfig } from './config.js';
export {
  S3DError,
  InvalidArgumentError,
  InputImageError,
  InputAudioError,
  NoFaceError,
  ModelFormatError,
  BackendUnavailableError,
  DisposedError,
  AbortError,
  NotImplementedError,
  OutOfMemoryError,
  InternalError,
} from './errors.js';
export type { ErrorCode, NativeLocation } from './errors.js';

export type CpuFeatures = NativeCpuFeatures;

/** What the CPU engine detected on this machine (and any S3D_CPU_FEATURES cap). */
export function cpuFeatures(): CpuFeatures {
  return native().cpuFeatures();
}
