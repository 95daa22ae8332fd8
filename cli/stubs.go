package cli

import "github.com/spf13/cobra"

func topCmd(g *globals) *cobra.Command            { return &cobra.Command{Use: "top", Hidden: true} }
func portCmd(g *globals) *cobra.Command           { return &cobra.Command{Use: "port", Hidden: true} }
func statsCmd(g *globals) *cobra.Command          { return &cobra.Command{Use: "stats", Hidden: true} }
func updateCmd(g *globals) *cobra.Command         { return &cobra.Command{Use: "update", Hidden: true} }
func commitCmd(g *globals) *cobra.Command         { return &cobra.Command{Use: "commit", Hidden: true} }
func exportCmd(g *globals) *cobra.Command         { return &cobra.Command{Use: "export", Hidden: true} }
func containerPruneCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "prune", Hidden: true} }
func eventsCmd(g *globals) *cobra.Command         { return &cobra.Command{Use: "events", Hidden: true} }
