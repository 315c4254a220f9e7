package dev.loraj.core.adapter;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What {@link Adapter#afterStep} sees: the step just taken (1-based), the planned total, and the
 * gradients of this adapter's parameters by key (as used by the update, before clipping).
 */
public record StepContext(long step, long totalSteps, Map<String, INDArray> gradients) {}
