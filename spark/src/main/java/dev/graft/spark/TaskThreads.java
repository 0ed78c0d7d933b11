package dev.graft.spark;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/** What a Spark task thread needs before it runs a model. */
final class TaskThreads {
    private TaskThreads() {}

    /**
     * Turns PyTorch's gradient recording off on the calling thread. Recording is per thread and on by default; DJL
     * turns it off only on the thread that started the engine, and Spark runs tasks on threads of its own. With it
     * on, inference would record graphs and the optimizer's in-place updates of the weights would be refused.
     */
    static void prepare() {
        Engine.getInstance();
        JniUtils.setGradMode(false);
    }
}
