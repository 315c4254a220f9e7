package dev.loraj.core.linalg;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A reduced QR decomposition {@code A = Q R}.
 *
 * @param q orthonormal columns, {@code [m, k]} with {@code k = min(m, n)}
 * @param r upper triangular (upper trapezoidal when {@code m < n}), {@code [k, n]}
 */
public record QrResult(INDArray q, INDArray r) {}
