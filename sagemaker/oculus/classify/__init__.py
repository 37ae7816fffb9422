"""Brain-MRI slice classification (glioma / meningioma / no_tumor / pituitary)."""
