package dev.graft.spi;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Declares one option of a method, once, on a component of the method's options record. The SPI derives the
 * option schema from it ({@link OptionSchema#of(Class)}: what {@code graft methods}, the docs and the store's
 * {@code adapter_config.json} round trip read), validates raw values against it (type, range, allowed values, unknown
 * keys with the nearest valid one) and builds the record ({@link MethodOptions#bind}).
 *
 * <p>The component's Java type gives the option type: {@code boolean} → {@link OptionType#BOOLEAN}, {@code int} →
 * {@link OptionType#INTEGER}, {@code double} → {@link OptionType#NUMBER}, {@code String} → {@link OptionType#STRING}
 * (or {@link OptionType#CHOICE} with {@link #allowed}), {@code List<String>} → {@link OptionType#STRING_LIST},
 * {@code List<Integer>} → {@link OptionType#INTEGER_LIST}, {@code Map<String, Integer>} → {@link OptionType#INTEGER_MAP},
 * {@code Map<String, Double>} → {@link OptionType#NUMBER_MAP}, {@code Object} → {@link OptionType#CHOICE} with
 * {@link #allowed} (values may mix booleans and strings, like PEFT's {@code init_lora_weights}) or
 * {@link OptionType#STRING_OR_STRING_LIST} without. An absent option without a default binds to {@code null}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Option {
    /** The value of {@link #defaultValue} that means "no default": the option is absent unless given. */
    String NO_DEFAULT = "\u0000";

    /** The key, as in PEFT's config class where PEFT has the method (e.g. {@code lora_alpha}). */
    String name();

    /** One sentence for {@code graft methods} and the docs. */
    String description();

    /**
     * The default as a literal of the option's type: {@code true}, {@code 8}, {@code 0.0}, a plain string
     * ({@code none}), {@code []} or {@code {}} for an empty list or map. Absent by default.
     */
    String defaultValue() default NO_DEFAULT;

    /** Whether the key must be given (then it has no default). */
    boolean required() default false;

    /** The smallest allowed value of a number, of every element of a number list, of every value of a number map. */
    double minimum() default Double.NEGATIVE_INFINITY;

    /** Whether {@link #minimum} itself is excluded. */
    boolean minimumExclusive() default false;

    /** The largest allowed value, as {@link #minimum}. */
    double maximum() default Double.POSITIVE_INFINITY;

    /** Whether {@link #maximum} itself is excluded. */
    boolean maximumExclusive() default false;

    /** The allowed values, as literals ({@code true}, {@code false} and numbers are read as such for an {@code Object} component). */
    String[] allowed() default {};
}
