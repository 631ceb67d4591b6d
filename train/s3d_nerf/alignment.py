"""Face alignment template, crop warping, inner-face mask, lip box and a rough
landmark-based head pose (DESIGN §2). Used by train/prepare_data.py and
train/s3d_nerf/dataset.py; single-shot inputs must be aligned the same way.

Template [ours]
---------------
MEAN68 is a 2-D mean of dlib's 68-point landmarks (iBUG 300-W order), in units
of the inter-ocular distance (IOD, between the two eye centres = means of
points 36-41 and 42-47), origin at the mid-point of the eye centres, y down,
made left/right symmetric. It was measured once (Procrustes mean on eyes +
nose, 5 iterations) over 160 frames of 8 training identities with
tools/landmarks68 and frozen here.

The 256x256 aligned crop puts the eye mid-point at (0.5, 0.40) of the image and
uses IOD = 58/256 of the side. Then (for the mean shape) the jaw line 0..16
spans 0.26..0.76 of the width (cheek to cheek 52%), the brows' top is at 0.31
and the chin (point 8) at 0.85: the framing of examples/astronaut.png ("eyes
~40% from the top, cheek to cheek ~53%, chin ~85% down") and of ts/mask.ts
TEMPLATE_ELLIPSE (x in [0.25, 0.75], y in [0.36, 0.84]).

The similarity transform (scale, rotation, translation) is fitted by least
squares on the rigid points only: eye corners and lids 36..47 and nose 27..35
(the mouth, jaw and brows move with speech and expression and would make the
crop jitter with them).

Pose [ours, rough]
------------------
MEAN68_3D lifts MEAN68 to 3-D with a hand-made depth per point (IOD units,
towards the camera positive; nose tip 0, outer eye corners -0.45, mouth
corners -0.40, chin -0.25, jaw line receding as -0.25 - 0.95 (|x|/1.148)^2 to
-1.2 at the ears; values after the common 6-point generic head model
(nose tip, chin, eye and mouth corners) scaled to IOD units). It is placed in
EG3D world units (x right, y up, z towards the frontal camera) so that the
frontal camera [[1,0,0,0],[0,-1,0,0],[0,0,-1,2.7]] with focal 4.2647 projects
it onto the template: eye-corner plane at z = 0.2, IOD_w = 58 (2.7 - 0.2) /
(4.2647 * 256). estimate_pose solves PnP (scipy least_squares, soft-L1, from the frontal
camera; cv2.solvePnP flipped some frames) on the ALIGNED
landmarks (so roll is mostly removed by the crop), keeps the rotation R
(world->camera) and returns cam2world [[R^T, c], [0, 1]] with the camera
centre c = -2.7 * R^T e_z: on the radius-2.7 sphere looking at the origin, as
camera.frontal_pose. The translation is dropped because the crop already
fixes position and scale. Rough but consistent; frontal template -> identity
rotation up to the perspective of the depth offsets.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

# The template and the 3-D face are read from weights/face-template.json, the one
# source of truth shared with the Node side (ts/face/*.ts); the numbers are the
# ones described above (frozen there, do not edit one side only).
_TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "weights" / "face-template.json"
_T = json.loads(_TEMPLATE_PATH.read_text())

IMAGE_SIZE = int(_T["image_size"])
EYE_X, EYE_Y = (float(v) for v in _T["eye_mid"])   # eye mid-point, fraction of the side
IOD = float(_T["iod"])            # inter-ocular distance (58/256), fraction of the side
FOCAL = float(_T["focal"])        # normalised focal (DESIGN §2)
RADIUS = float(_T["radius"])

MEAN68 = np.array(_T["mean68"], dtype=np.float64)

ALIGN_IDX = np.array(_T["align_idx"])      # eyes 36..47, nose 27..35
MASK_IDX = np.array(_T["mask_idx"])        # jaw 0..16, brows 26..17
LIP_IDX = np.array(_T["lip_idx"])          # 48..67


def _depth68() -> np.ndarray:
    """Hand-made depth per point (IOD units): jaw -0.25 - 0.95 (|x|/1.148)^2, brows
    -0.50/-0.38/-0.32, nose ridge -0.30..0, nostrils, eyes -0.38 (corners -0.45/-0.36),
    mouth -0.25..-0.40 (see the module docstring); stored in the template file."""
    return np.array(_T["depth68"], dtype=np.float64)


_Z_EYE = float(_T["z_eye"])
IOD_WORLD = IOD * (RADIUS - _Z_EYE) / FOCAL
MEAN68_3D = np.stack([
    IOD_WORLD * MEAN68[:, 0],
    (0.5 - EYE_Y) * (RADIUS - _Z_EYE) / FOCAL - IOD_WORLD * MEAN68[:, 1],
    _Z_EYE + IOD_WORLD * (_depth68() + 0.45),
], 1)


def template_points(size: int = IMAGE_SIZE) -> np.ndarray:
    """(68, 2) template landmark positions in crop pixels (dlib convention: pixel
    (i, j) centre at (i, j); add 0.5 for the (i+0.5)/res convention of DESIGN §2)."""
    return np.stack([size * (EYE_X + IOD * MEAN68[:, 0]), size * (EYE_Y + IOD * MEAN68[:, 1])], 1)


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping src -> dst,
    (N,2) each; returns the 2x3 matrix M with dst ~ M[:, :2] @ p + M[:, 2]."""
    src = np.asarray(src, np.float64); dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    # closed form for 2-D similarity: a = s cos, b = s sin
    den = (s ** 2).sum()
    a = (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum() / den
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / den
    R = np.array([[a, -b], [b, a]])
    t = md - R @ ms
    return np.concatenate([R, t[:, None]], 1)


def params_from_matrix(M: np.ndarray) -> np.ndarray:
    """(..., 2, 3) similarity -> (..., 4) [a, b, tx, ty] (linear, so it can be smoothed)."""
    return np.stack([M[..., 0, 0], M[..., 1, 0], M[..., 0, 2], M[..., 1, 2]], -1)


def matrix_from_params(p: np.ndarray) -> np.ndarray:
    a, b, tx, ty = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    return np.stack([np.stack([a, -b, tx], -1), np.stack([b, a, ty], -1)], -2)


def apply(M: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ M[:, :2].T + M[:, 2]


def align_matrix(landmarks: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """2x3 image -> crop similarity for one frame's (68,2) landmarks."""
    return fit_similarity(landmarks[ALIGN_IDX], template_points(size)[ALIGN_IDX])


def warp_crop(frame: np.ndarray, M: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Aligned size x size uint8 crop of an HxWx3 uint8 frame (cv2, bilinear,
    replicated border; Gaussian pre-blur when shrinking by more than 1.5x)."""
    import cv2
    scale = math.hypot(M[0, 0], M[1, 0])
    if scale < 1 / 1.5:
        sigma = 0.5 * (1 / scale - 1)
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    return cv2.warpAffine(frame, M.astype(np.float64), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def mask_polygon(crop_landmarks: np.ndarray) -> np.ndarray:
    """(27, 2) inner-face polygon (jaw 0..16 then brows 26..17), as ts/mask.ts landmarkPolygon."""
    return crop_landmarks[MASK_IDX]


def lip_box(crop_landmarks: np.ndarray, pad: float = 0.15, size: int = IMAGE_SIZE) -> np.ndarray:
    """[x0, y0, x1, y1] box of points 48..67, padded by pad * (box width) on every
    side (at least 4 px), clipped to the crop."""
    p = crop_landmarks[LIP_IDX]
    x0, y0 = p.min(0); x1, y1 = p.max(0)
    m = max(4.0, pad * (x1 - x0))
    return np.clip(np.array([x0 - m, y0 - m, x1 + m, y1 + m]), 0, size)


def fill_mask(poly: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """(size, size) float32 {0,1} mask of a polygon: pixel (x, y) is in when its centre
    (x + 0.5, y + 0.5) is inside (crossing number, even-odd), the rule of ts/mask.ts
    fillPolygon, written independently (per pixel, not scanline spans). cv2.fillPoly,
    used before, also filled every pixel the outline touches, so training masks were about
    a pixel wider than the ones the API builds (tests/api-parity.test.mjs)."""
    poly = np.asarray(poly, np.float64)
    c = np.arange(size, dtype=np.float64) + 0.5
    px, py = c[None, :], c[:, None]
    inside = np.zeros((size, size), bool)
    for (xi, yi), (xj, yj) in zip(poly, np.roll(poly, 1, axis=0)):
        if yi == yj:
            continue
        crosses = (yi > py) != (yj > py)
        x_at = xi + (py - yi) / (yj - yi) * (xj - xi)
        inside ^= crosses & (px < x_at)
    return inside.astype(np.float32)


def estimate_pose(crop_landmarks: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """4x4 cam2world (EG3D/OpenCV axes) from (68,2) aligned-crop landmarks."""
    import cv2
    from scipy.optimize import least_squares
    f = FOCAL * size
    img = np.asarray(crop_landmarks, np.float64)   # template_points convention (integer-centred)
    X = MEAN68_3D
    F = np.diag([1.0, -1.0, -1.0])                  # world->camera rotation of the frontal camera

    def resid(p):
        # world->camera = Rodrigues(p[:3]) @ F, translation p[3:], started at the frontal camera
        R = cv2.Rodrigues(p[:3])[0] @ F
        Xc = X @ R.T + p[3:]
        uv = f * Xc[:, :2] / Xc[:, 2:3] + size / 2
        return (uv - img).ravel()

    p0 = np.array([0, 0, 0, 0, 0, RADIUS], np.float64)
    sol = least_squares(resid, p0, loss="soft_l1", f_scale=2.0, x_scale=[0.1, 0.1, 0.1, 0.05, 0.05, 0.2])
    # rotations of talking heads stay well inside +-90 degrees; Levenberg-type refinement from the
    # frontal start keeps the solution on the right branch (cv2.solvePnP sometimes flipped it)
    R = cv2.Rodrigues(sol.x[:3])[0] @ F
    return pose_from_rotation(R)


def pose_from_rotation(R_w2c: np.ndarray) -> np.ndarray:
    P = np.eye(4)
    P[:3, :3] = R_w2c.T
    P[:3, 3] = -RADIUS * R_w2c.T[:, 2]
    return P


def smooth_rotations(poses: np.ndarray, sigma: float) -> np.ndarray:
    """Temporal Gaussian smoothing of (N,4,4) cam2world rotations (via rotation
    vectors relative to the frontal camera, fine for the small angles of talking heads)."""
    import cv2
    from scipy.ndimage import gaussian_filter1d
    if sigma <= 0 or len(poses) < 2:
        return poses
    F = np.diag([1.0, -1.0, -1.0])   # frontal world->camera (a 180-degree turn: smooth the offset from it)
    rv = np.stack([cv2.Rodrigues(np.ascontiguousarray(p[:3, :3].T @ F))[0][:, 0] for p in poses])
    rv = gaussian_filter1d(rv, sigma, axis=0, mode="nearest")
    return np.stack([pose_from_rotation(cv2.Rodrigues(v)[0] @ F) for v in rv])
