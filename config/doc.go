// Package config owns the gateway's YAML file: strict decoding into typed
// structs (unknown keys are errors), defaults, and validation for meaning that
// reports every problem at once, each as "file:line: key.path: problem".
// It checks what can be checked without loading schemas or dialling
// backends; the gateway package reports the rest with the same positions.
package config
