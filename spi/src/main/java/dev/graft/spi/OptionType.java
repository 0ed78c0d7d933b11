package dev.graft.spi;

/** The type of a method option's value, as it appears in a recipe or an {@code adapter_config.json}. */
public enum OptionType {
    /** {@code true} or {@code false}. */
    BOOLEAN,
    /** A whole number (a JSON number without a fraction). */
    INTEGER,
    /** Any number; read as a double. */
    NUMBER,
    /** A string. */
    STRING,
    /** A list of strings. */
    STRING_LIST,
    /** A string (a regular expression, say) or a list of strings, like PEFT's {@code feedforward_modules}. */
    STRING_OR_STRING_LIST,
    /** A list of whole numbers. */
    INTEGER_LIST,
    /** A map from strings (usually module-name patterns) to numbers, like PEFT's {@code alpha_pattern}. */
    NUMBER_MAP,
    /** A map from strings to whole numbers, like PEFT's {@code rank_pattern}. */
    INTEGER_MAP,
    /** One of a fixed set of values, which may mix strings and booleans (like PEFT's {@code init_lora_weights}). */
    CHOICE
}
