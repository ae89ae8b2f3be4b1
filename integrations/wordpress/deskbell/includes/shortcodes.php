<?php
/**
 * [deskbell_search] and [deskbell_article]: the knowledge base inside a page, rendered on
 * the server so it works without JavaScript and is readable by search engines.
 *
 * @package Deskbell
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const DESKBELL_QUERY_ARG = 'deskbell_q';

/**
 * The search form plus, when the page was opened with ?deskbell_q=, the results.
 *
 * @param array<string, string>|string $atts Shortcode attributes: placeholder, limit.
 * @return string
 */
function deskbell_search_shortcode( $atts ) {
	$atts  = shortcode_atts(
		array(
			'placeholder' => __( 'Search the help center', 'deskbell' ),
			'limit'       => '5',
		),
		$atts,
		'deskbell_search'
	);
	$limit = max( 1, min( 20, (int) $atts['limit'] ) );
	// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a public, read-only search.
	$query = isset( $_GET[ DESKBELL_QUERY_ARG ] ) ? sanitize_text_field( wp_unslash( $_GET[ DESKBELL_QUERY_ARG ] ) ) : '';
	$query = mb_substr( $query, 0, 200 );
	$html  = '<div class="deskbell-search">' . deskbell_search_form( $query, (string) $atts['placeholder'] );
	if ( '' !== $query ) {
		$html .= deskbell_search_results( $query, $limit );
	}
	return $html . '</div>';
}

/**
 * A GET form back to this page. Query arguments of the page's own URL (such as ?page_id=)
 * become hidden fields, because a GET form replaces the action's query string.
 *
 * @param string $query       Current query.
 * @param string $placeholder Placeholder text.
 * @return string
 */
function deskbell_search_form( $query, $placeholder ) {
	static $count = 0;
	++$count;
	$id     = 'deskbell-q-' . $count;
	$action = (string) get_permalink();
	$hidden = '';
	$parsed = wp_parse_url( $action, PHP_URL_QUERY );
	if ( is_string( $parsed ) ) {
		wp_parse_str( $parsed, $args );
		foreach ( $args as $name => $value ) {
			if ( is_string( $value ) && DESKBELL_QUERY_ARG !== $name ) {
				$hidden .= '<input type="hidden" name="' . esc_attr( $name ) . '" value="' . esc_attr( $value ) . '">';
			}
		}
	}
	return '<form class="deskbell-search-form" role="search" method="get" action="' . esc_url( $action ) . '">'
		. $hidden
		. '<label for="' . esc_attr( $id ) . '">' . esc_html__( 'Search the help center', 'deskbell' ) . '</label> '
		. '<input type="search" id="' . esc_attr( $id ) . '" name="' . esc_attr( DESKBELL_QUERY_ARG ) . '" value="' . esc_attr( $query ) . '" placeholder="' . esc_attr( $placeholder ) . '" maxlength="200"> '
		. '<button type="submit">' . esc_html__( 'Search', 'deskbell' ) . '</button>'
		. '</form>';
}

/**
 * Results from <server>/api/v1/search, escaped; snippets keep only their <mark> tags.
 *
 * @param string $query Search query.
 * @param int    $limit Most results shown.
 * @return string
 */
function deskbell_search_results( $query, $limit ) {
	$found = deskbell_api_get(
		'/search',
		array(
			'q'     => $query,
			'limit' => $limit,
		)
	);
	$all   = deskbell_server_url() . '/kb/search?q=' . rawurlencode( $query );
	if ( is_wp_error( $found ) ) {
		return '<p class="deskbell-search-error">' . esc_html__( 'Search is unavailable right now.', 'deskbell' )
			. ( '' !== deskbell_server_url() ? ' <a href="' . esc_url( $all ) . '">' . esc_html__( 'Try the help center', 'deskbell' ) . '</a>' : '' )
			. '</p>' . deskbell_admin_notice( $found );
	}
	$results = isset( $found['results'] ) && is_array( $found['results'] ) ? $found['results'] : array();
	if ( ! $results ) {
		/* translators: %s: the visitor's search. */
		return '<p class="deskbell-search-none" role="status">' . esc_html( sprintf( __( 'No articles match “%s”.', 'deskbell' ), $query ) ) . '</p>';
	}
	$total = isset( $found['total'] ) ? (int) $found['total'] : count( $results );
	/* translators: %d: number of articles found. */
	$html  = '<p class="deskbell-search-count" role="status">' . esc_html( sprintf( _n( '%d article found', '%d articles found', $total, 'deskbell' ), $total ) ) . '</p><ol class="deskbell-search-results">';
	foreach ( $results as $hit ) {
		$html .= '<li><a href="' . esc_url( deskbell_absolute( $hit['url'] ?? '' ) ) . '">' . esc_html( (string) ( $hit['title'] ?? '' ) ) . '</a>'
			. '<p>' . wp_kses( (string) ( $hit['snippet'] ?? '' ), array( 'mark' => array() ) ) . '</p></li>';
	}
	$html .= '</ol>';
	if ( $total > count( $results ) ) {
		$html .= '<p><a href="' . esc_url( $all ) . '">' . esc_html__( 'See all results', 'deskbell' ) . '</a></p>';
	}
	return $html;
}
add_shortcode( 'deskbell_search', 'deskbell_search_shortcode' );

/**
 * One knowledge-base article, embedded. Visitors see nothing when it cannot be loaded;
 * people who can edit the page see why.
 *
 * @param array<string, string>|string $atts Shortcode attributes: slug, title (yes|no).
 * @return string
 */
function deskbell_article_shortcode( $atts ) {
	$atts    = shortcode_atts(
		array(
			'slug'  => '',
			'title' => 'yes',
		),
		$atts,
		'deskbell_article'
	);
	$article = deskbell_get_article( trim( (string) $atts['slug'] ) );
	if ( is_wp_error( $article ) ) {
		return deskbell_admin_notice( $article );
	}
	$html = '<div class="deskbell-article">';
	if ( 'no' !== $atts['title'] ) {
		$html .= '<h2>' . esc_html( (string) ( $article['title'] ?? '' ) ) . '</h2>';
	}
	$html .= wp_kses_post( deskbell_absolute_links( (string) ( $article['html'] ?? '' ) ) );
	$html .= '<p class="deskbell-article-link"><a href="' . esc_url( deskbell_absolute( $article['url'] ?? '' ) ) . '">'
		. esc_html__( 'Read the full article', 'deskbell' ) . '</a></p></div>';
	return $html;
}
add_shortcode( 'deskbell_article', 'deskbell_article_shortcode' );

/**
 * Article HTML links to other articles by server-relative URL; inside WordPress they must
 * point at the Deskbell server.
 *
 * @param string $html Sanitized article HTML.
 * @return string
 */
function deskbell_absolute_links( $html ) {
	$server = deskbell_server_url();
	return (string) preg_replace_callback(
		'#\b(href|src)="/(?!/)#',
		function ( $m ) use ( $server ) {
			return $m[1] . '="' . $server . '/';
		},
		$html
	);
}

/**
 * Why Deskbell content is missing, for people who can edit posts; nothing for visitors.
 *
 * @param WP_Error $error What went wrong.
 * @return string
 */
function deskbell_admin_notice( $error ) {
	if ( ! current_user_can( 'edit_posts' ) ) {
		return '';
	}
	return '<p class="deskbell-notice" role="note"><strong>' . esc_html__( 'Deskbell:', 'deskbell' ) . '</strong> '
		. esc_html( $error->get_error_message() ) . ' ' . esc_html__( '(Only editors see this note.)', 'deskbell' ) . '</p>';
}
