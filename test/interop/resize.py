# The first N test images of Fashion-MNIST through d2l's transforms (torchvision's Resize on the PIL image, then
# ToTensor), written as float32 [N, 1, H, W] to OUT: test/interop.test.ts compares load_data_fashion_mnist's
# {resize} batches with them. Usage: resize.py IMAGES_GZ N SIZE OUT
import gzip
import sys

import numpy as np
from PIL import Image
from torchvision import transforms

images, n, size, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with gzip.open(images) if images.endswith('.gz') else open(images, 'rb') as f:
    data = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 28, 28)
trans = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
np.stack([trans(Image.fromarray(img, mode='L')).numpy() for img in data]).astype(np.float32).tofile(out)
