// Per-frame face analysis for `npm run eval`, with the face-api models the
// package ships and loads (ts/face/detect.ts: SSD-MobileNet v1 + 68-point
// landmarks on the tfjs WebAssembly backend), plus face-api's recognition net
// for the 128-d descriptor (below 0.6 apart = same person).
//
// Landmarks come from the package's own detectFace (detector box, then two
// refinement passes on a template-aligned patch): what the renderer itself
// sees. The descriptor is computed the way face-api's withFaceDescriptor()
// does it: the face chip from landmarks.align({ useDlibAlignment }) fed to
// faceRecognitionNet.
import { createRequire } from 'node:module';
import path from 'node:path';
import { detectFace, loadFaceModels, NoFaceError } from '../../lib/index.js';
import { toDlibLandmarks } from '../../lib/face/detect.js';

let recognitionReady;

/** The package's face-api runtime with the recognition net loaded too (once). */
function faceRuntime() {
  recognitionReady ??= (async () => {
    const rt = await loadFaceModels();
    const require = createRequire(import.meta.url);
    const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    await rt.faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
    return rt;
  })();
  return recognitionReady;
}

/** Loads every model up front (a few seconds), so per-frame timings are honest. */
export async function loadEvalFaceModels() {
  await faceRuntime();
}

async function descriptorOf(rt, image, landmarks) {
  const fa = rt.faceapi;
  // face-api wants positions relative to the image, continuous coordinates (pixel centres at i + 0.5)
  const relative = landmarks.map(([x, y]) => new fa.Point((x + 0.5) / image.width, (y + 0.5) / image.height));
  const box = new fa.FaceLandmarks68(relative, { width: image.width, height: image.height }).align(null, { useDlibAlignment: true });
  const pixels = new Int32Array(image.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = image.data[i];
  const tensor = rt.tf.tensor3d(pixels, [image.height, image.width, 3], 'int32');
  try {
    const [chip] = await fa.extractFaceTensors(tensor, [box]);
    try {
      return Array.from(await fa.nets.faceRecognitionNet.computeFaceDescriptor(chip));
    } finally {
      chip.dispose();
    }
  } finally {
    tensor.dispose();
  }
}

/**
 * Detection + 68 landmarks + descriptor of the largest face of one RGB frame
 * ({ data, width, height }). Returns { found: false } when there is no face;
 * landmarks are in dlib's convention (the training data's).
 */
export async function analyseFace(image) {
  const rt = await faceRuntime();
  let detected;
  try {
    detected = await detectFace(image, { dlibOffset: false, label: 'the frame' });
  } catch (err) {
    if (err instanceof NoFaceError) return { found: false };
    throw err;
  }
  return {
    found: true,
    score: detected.score,
    box: detected.box,
    landmarks: toDlibLandmarks(detected.landmarks),
    descriptor: await descriptorOf(rt, image, detected.landmarks),
  };
}
