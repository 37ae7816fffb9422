"""Network architectures for the tumour classifier. TensorFlow/Keras is imported here only.

Both architectures output raw logits (no softmax): temperature scaling and the softmax are
applied by the runtime with the temperature recorded in the model card.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

#: Preprocessing each architecture expects; copied into the model card.
PREPROCESSING: dict[str, dict[str, Any]] = {
    # Trained from scratch: grayscale in [0, 1].
    "compact": {"color_mode": "grayscale", "resize": "bilinear", "scale": 1.0 / 255.0, "offset": 0.0},
    "compact-wide": {"color_mode": "grayscale", "resize": "bilinear", "scale": 1.0 / 255.0, "offset": 0.0},
    # Keras' EfficientNet has its own Rescaling + Normalization layers inside the model and
    # expects raw 0-255 RGB pixels; keras.applications.efficientnet.preprocess_input is a
    # pass-through. Dividing by 255 here (the usual habit) would silently feed it near-black
    # images, so the scale is 1.0 on purpose.
    "efficientnetb3": {"color_mode": "rgb", "resize": "bilinear", "scale": 1.0, "offset": 0.0},
}


def _conv_bn(x, filters: int, kernel: int = 3, strides: int = 1, separable: bool = False, act: bool = True):
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    # momentum 0.95 (Keras default 0.99): moving statistics follow the weights more closely,
    # meant to steady validation accuracy, which swung by up to 10 points between epochs in
    # the first CPU run (Keras default momentum).
    x = layers.BatchNormalization(momentum=0.95)(x)
    return layers.Activation("relu")(x) if act else x


def _residual_block(x, filters: int, strides: int):
    """Two separable 3x3 convs with a projected shortcut when shape changes (ResNet v1 style)."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        if strides != 1:
            shortcut = layers.AveragePooling2D(strides, padding="same")(shortcut)
        shortcut = _conv_bn(shortcut, filters, kernel=1, act=False)
    y = _conv_bn(x, filters, strides=strides, separable=True)
    y = _conv_bn(y, filters, separable=True, act=False)
    return layers.Activation("relu")(layers.Add()([shortcut, y]))


#: (widths per stage, residual blocks per stage) of the from-scratch CNNs.
COMPACT_SHAPES = {"compact": ((48, 96, 192, 320), 2),
                  # v2: for 192-224 px input, more channels and one more block in the deep stages
                  "compact-wide": ((64, 128, 256, 448), 2)}


def build_compact(image_size: int, num_classes: int = 4, widths: tuple[int, ...] = (48, 96, 192, 320),
                  blocks: int = 2, name: str = "oculus_compact_cnn") -> keras.Model:
    """A small residual CNN with separable convs: full convs in the stem (few channels, where
    separable convs save little), separable ones deeper where they cut FLOPs ~8x on a CPU."""
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = _conv_bn(inputs, 24, strides=2)           # S/2
    x = _conv_bn(x, 32)
    x = _conv_bn(x, widths[0], strides=2)          # S/4
    for i, w in enumerate(widths):
        x = _residual_block(x, w, strides=1 if i == 0 else 2)
        for _ in range(blocks - 1):
            x = _residual_block(x, w, strides=1)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def build_efficientnetb3(image_size: int, num_classes: int = 4, weights: str | None = "imagenet") -> keras.Model:
    """EfficientNetB3 backbone (ImageNet weights where they can be downloaded, e.g. on AWS)
    with a new head. Input: 0-255 RGB (see PREPROCESSING)."""
    inputs = keras.Input((image_size, image_size, 3), name="image")
    base = keras.applications.EfficientNetB3(include_top=False, weights=weights, input_tensor=inputs)
    x = layers.GlobalAveragePooling2D()(base.output)
    x = layers.Dropout(0.3)(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="oculus_efficientnetb3")


def build_model(arch: str, image_size: int, num_classes: int = 4) -> keras.Model:
    if arch in COMPACT_SHAPES:
        widths, blocks = COMPACT_SHAPES[arch]
        name = "oculus_compact_cnn" if arch == "compact" else f"oculus_{arch.replace('-', '_')}_cnn"
        return build_compact(image_size, num_classes, widths, blocks, name)
    if arch == "efficientnetb3":
        return build_efficientnetb3(image_size, num_classes)
    raise ValueError(f"unknown architecture {arch!r}")
